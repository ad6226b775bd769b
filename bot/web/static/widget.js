/* Staff chat widget: talks to Rasa over socket.io and renders the bot's rich replies.
 *
 * Every string that comes from the server or the user is written with textContent
 * (never innerHTML), so nothing in a message can become markup.
 */
(function () {
  "use strict";
  var byId = window.SalesbotDom.byId;
  var el = window.SalesbotDom.el;

  // Every disposition, stage, intent and button text comes from the server (bot/playbook/labels.yml).
  var LABELS = window.SalesbotDom.labels();
  function outcomeLabel(code) { return LABELS.dispositions[code] || code || LABELS.unlogged; }
  function stageLabel(code) { return LABELS.stages[code] || code; }
  function intentLabel(name) { return LABELS.intents[name] || name; }
  var PANEL = LABELS.call_list_panel || {};
  var KIND_LABELS = LABELS.call_list_kinds || {};
  function panelText(key, values) {
    return String(PANEL[key] || "").replace(/\{(\w+)\}/g, function (all, name) {
      return values && name in values ? String(values[name]) : all;
    });
  }

  var body = document.body;
  var log = byId("log");
  var input = byId("input");
  var currentClientEl = byId("current-client");
  var historyLoadedFor = null;
  var followupTimer = null;
  var currentClient = null;
  var proposal = null;  // the outcome the assistant proposes for this call (a reply's "proposal")
  var chat = null;  // SalesbotChat (chat.js): the socket, the token, the log's bubbles

  /* ---------- formatting ---------- */

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function parseLocal(iso) {
    // "2026-11-24T15:00" or "2026-11-24 15:00:00" -> Date in local time
    if (!iso) { return null; }
    var m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?/.exec(String(iso));
    if (!m) { return null; }
    return new Date(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0));
  }

  function friendlyTime(iso) {
    var d = parseLocal(iso);
    if (!d) { return iso ? String(iso) : ""; }
    var today = new Date();
    today.setHours(0, 0, 0, 0);
    var day = new Date(d.getFullYear(), d.getMonth(), d.getDate());
    var diff = Math.round((day - today) / 86400000);
    var prefix = { "-1": "昨天", "0": "今天", "1": "明天", "2": "后天" }[diff];
    if (!prefix) { prefix = (d.getMonth() + 1) + "月" + d.getDate() + "日"; }
    if (d.getFullYear() !== today.getFullYear()) { prefix = d.getFullYear() + "年" + prefix; }
    return prefix + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function money(value) {
    if (value === null || value === undefined || value === "") { return null; }
    var n = Number(value);
    if (!isFinite(n)) { return String(value); }
    if (n >= 10000) { return (Math.round(n / 1000) / 10) + " 万元"; }
    return n + " 元";
  }

  /* What to show for a message we send: button titles, or a readable form of a /intent payload. */
  function displayText(text) {
    var m = /^\/(\w+)(\{.*\})?$/.exec(text);
    if (!m) { return text; }
    var label = intentLabel(m[1]);
    var args = {};
    try { args = m[2] ? JSON.parse(m[2]) : {}; } catch (e) { args = {}; }
    if (args.outcome) { return label + "：" + outcomeLabel(args.outcome); }
    if (args.time) { return label + "：" + friendlyTime(args.time); }
    var values = Object.keys(args).map(function (k) { return String(args[k]); });
    return values.length ? label + "：" + values.join(" ") : label;
  }

  /* ---------- cards ---------- */

  function field(dl, label, value) {
    if (value === null || value === undefined || value === "") { return; }
    dl.appendChild(el("dt", null, label));
    dl.appendChild(el("dd", null, value));
  }

  function renderClientCard(payload, buttons) {
    var c = payload.client || {};
    var card = el("article", "card client-card" + (c.do_not_call ? " dnc" : ""));
    card.setAttribute("aria-label", "客户资料：" + (c.name || ""));
    if (c.do_not_call) {
      card.appendChild(el("div", "banner danger", outcomeLabel("do_not_call") + "客户：请勿推销" +
        (payload.warning ? "。" + payload.warning : "")));
    } else if (payload.warning) {
      card.appendChild(el("div", "banner warn", payload.warning));
    }
    var head = el("div", "card-head");
    var name = el("h3", "client-name", c.name || "客户");
    if (c.title && c.title !== c.name) { name.appendChild(el("span", "client-title", "称呼：" + c.title)); }
    head.appendChild(name);
    if (c.stage_label || c.stage) {
      head.appendChild(el("span", "badge stage stage-" + (c.stage || ""), c.stage_label || stageLabel(c.stage)));
    }
    if (c.tier) { head.appendChild(el("span", "badge tier", c.tier)); }
    card.appendChild(head);
    if (c.limited) {
      // Another agent's client: the server sent name, stage and owner only.
      card.appendChild(el("div", "banner warn", "其他坐席的客户：只显示姓名、阶段和负责人。"));
      var owner = el("dl", "facts");
      field(owner, "负责坐席", c.agent_name || c.agent);
      card.appendChild(owner);
      // Not this agent's call: the current client stays as it was.
      chat.renderCard(card, buttons);
      return;
    }

    var dl = el("dl", "facts");
    field(dl, "电话", c.phone);
    var job = [c.occupation, c.company].filter(Boolean).join(" · ");
    field(dl, "职业", job);
    field(dl, "资产", money(c.assets));
    field(dl, "客群", (c.segments || []).join("、"));
    field(dl, "号码来源", c.contact_source_label);
    field(dl, "风险测评", c.risk_tolerance || "未测评（不推荐理财产品）");
    var last = c.last_call;
    field(dl, "上次通话", last ? friendlyTime(last.started_at) + "，" +
      outcomeLabel(last.outcome) : "没有通话记录");
    field(dl, "介绍人", c.referrer);
    field(dl, "备注", c.note);
    card.appendChild(dl);

    var holdings = el("div", "holdings");
    holdings.appendChild(el("span", "tool-label", "已持有"));
    var list = c.holdings || [];
    if (list.length) {
      list.forEach(function (h) { holdings.appendChild(el("span", "chip-static", h)); });
    } else {
      holdings.appendChild(el("span", "muted", "暂无产品"));
    }
    card.appendChild(holdings);

    var recs = payload.recommended_products || [];
    if (recs.length && !c.do_not_call) {
      var box = el("div", "recommend");
      box.appendChild(el("div", "tool-label", "推荐产品"));
      var ul = el("ul");
      recs.forEach(function (p) {
        var li = el("li");
        var btn = el("button", "btn link", p.name);
        btn.type = "button";
        btn.title = "让助手介绍" + p.name;
        btn.addEventListener("click", function () {
          chat.send("/request_product_pitch" + JSON.stringify({ product: p.name }), p.name + "怎么介绍");
        });
        li.appendChild(btn);
        if (p.why) { li.appendChild(el("span", "muted", " " + p.why)); }
        ul.appendChild(li);
      });
      box.appendChild(ul);
      card.appendChild(box);
    }
    setCurrentClient(c);
    chat.renderCard(card, buttons);
  }

  function setCurrentClient(c) {
    if (currentClient && String(currentClient.id) !== String(c.id)) { setProposal(null); }
    currentClient = c;
    currentClientEl.textContent = "";
    currentClientEl.appendChild(el("span", "muted", "当前客户："));
    currentClientEl.appendChild(el("strong", null, c.name || ""));
    if (c.stage_label) { currentClientEl.appendChild(el("span", "badge stage stage-" + (c.stage || ""), c.stage_label)); }
    if (c.do_not_call) { currentClientEl.appendChild(el("span", "badge danger", outcomeLabel("do_not_call"))); }
  }

  function copyText(text, btn) {
    function done(ok) {
      btn.textContent = ok ? "已复制" : "复制失败";
      setTimeout(function () { btn.textContent = "复制"; }, 1600);
    }
    function fallback() {
      var area = el("textarea", "offscreen");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      area.remove();
      btn.focus();
      done(ok);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, fallback);
    } else {
      fallback();
    }
  }

  function renderScript(payload, buttons) {
    var card = el("article", "card script-card");
    card.setAttribute("aria-label", "话术：" + (payload.technique || ""));
    var head = el("div", "card-head");
    head.appendChild(el("span", "badge technique", payload.technique || "话术"));
    var copy = el("button", "btn small copy", "复制");
    copy.type = "button";
    copy.setAttribute("aria-label", "复制这句话术");
    copy.addEventListener("click", function () { copyText(payload.text || "", copy); });
    head.appendChild(copy);
    card.appendChild(head);
    card.appendChild(el("p", "say", payload.text || ""));
    if (payload.why) { card.appendChild(el("p", "why", payload.why)); }
    var notes = payload.notes || [];
    if (notes.length) {
      var ul = el("ul", "notes");
      notes.forEach(function (n) { ul.appendChild(el("li", null, n)); });
      card.appendChild(ul);
    }
    chat.renderCard(card, buttons);
  }

  function renderFollowupBooked(payload, text, buttons) {
    // The bot's text has the line to say to the customer: it becomes the card's body.
    var card = el("article", "card info-card followup-card");
    card.appendChild(el("div", "card-title", "已预约回访：" + (payload.client || "") + " · " + friendlyTime(payload.due_at)));
    card.appendChild(el("p", "logged-text", text || payload.reason || ""));
    chat.renderCard(card, buttons);
    scheduleFollowupRefresh(200);
  }

  function renderFollowupList(payload, buttons) {
    var items = payload.items || [];
    var card = el("article", "card info-card");
    card.appendChild(el("div", "card-title", "今天要回访 " + items.length + " 位客户"));
    var ul = el("ul", "plain-list");
    items.forEach(function (f) {
      var li = el("li", f.overdue ? "overdue" : null);
      li.appendChild(el("span", "when", friendlyTime(f.due_at) + (f.overdue ? "（已逾期）" : "")));
      li.appendChild(el("strong", null, " " + (f.client || "")));
      if (f.reason) { li.appendChild(el("span", "muted", " " + f.reason)); }
      ul.appendChild(li);
    });
    card.appendChild(ul);
    chat.renderCard(card, buttons);
  }

  function renderCallLogged(payload, text, buttons) {
    // The bot's text says what was recorded (and the stage change): it becomes the card's body.
    var label = payload.outcome ? outcomeLabel(payload.outcome) : "";
    var card = el("article", "card ok-card");
    card.appendChild(el("div", "card-title", "通话已记录：" + label));
    card.appendChild(el("p", "logged-text", text || (payload.stage ? "客户阶段：" + stageLabel(payload.stage) : "")));
    var next = el("button", "btn small", "开始新通话");
    next.type = "button";
    next.addEventListener("click", newCall);
    card.appendChild(next);
    chat.renderCard(card, buttons);
    setProposal(null);
    if (payload.stage && currentClient) {
      currentClient.stage = payload.stage;
      currentClient.stage_label = stageLabel(payload.stage);
      setCurrentClient(currentClient);
    }
    scheduleFollowupRefresh(200);
  }

  /* A reply whose payload has a card of its own: the card stands in for the reply's text (which
     says what the card shows, or becomes its body), the buttons beneath. False for any other payload. */
  function renderCard(custom, text, buttons) {
    switch (custom.type) {
      case "client_card": renderClientCard(custom, buttons); return true;
      case "script": renderScript(custom, buttons); return true;
      case "followup": renderFollowupBooked(custom, text, buttons); return true;
      case "followups": renderFollowupList(custom, buttons); return true;
      case "call_logged": renderCallLogged(custom, text, buttons); return true;
      default: return false;
    }
  }

  /* One reply: its card, or its text bubble (with the buttons) and then a payload's own text. */
  function renderReply(text, buttons, custom) {
    if (!custom || typeof custom !== "object") { custom = null; }
    if (custom && custom.proposal) { setProposal(custom.proposal); }
    if (custom && custom.type === "complaint_recorded" && proposal && proposal.outcome === "complaint") {
      setProposal(null);
    }
    if (custom && renderCard(custom, text, buttons)) { return; }
    if (text || buttons.length) { chat.renderBotText(text, buttons); }
    if (custom && custom.text) { chat.renderBotText(String(custom.text)); }
  }

  /* One bot_uttered event, one reply: {text, quick_replies|buttons, custom} (or a bare custom payload). */
  function onBotMessage(message) {
    var custom = message.custom || (message.type && !message.text ? message : null);
    renderReply(message.text ? String(message.text) : "", message.quick_replies || message.buttons || [], custom);
    scheduleFollowupRefresh(500);
  }

  /* ---------- conversation history (after a reload) ---------- */

  function loadHistory(id) {
    if (historyLoadedFor === id) { return; }
    historyLoadedFor = id;
    fetch("/api/conversations/" + encodeURIComponent(id), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || !data.turns || !data.turns.length || chat.sessionId() !== id) { return; }
        chat.notice("已恢复本次通话的记录", "info");
        data.turns.forEach(function (t) {
          if (t.speaker === "user" && t.text) { chat.renderUser(displayText(t.text)); }
          else if (t.speaker === "bot") { renderReply(t.text || "", [], t.custom); }
        });
      })
      .catch(function () { /* history is a convenience only */ });
  }

  /* ``then(id)``: once the new conversation is open (a call started from the call list). */
  function newCall(then) {
    historyLoadedFor = null;
    chat.newSession(typeof then === "function" ? then : null);
    currentClient = null;
    setProposal(null);
    currentClientEl.textContent = "";
    currentClientEl.appendChild(el("span", "muted", "当前客户：未选择"));
    chat.notice("新通话已开始。先查客户，例如“查一下张三”。", "info");
    input.focus();
  }

  /* ---------- the proposed outcome (a reply's "proposal", bot/book/proposals.py) ---------- */

  function setProposal(p) {
    proposal = p && p.outcome && p.payload ? p : null;
    var box = byId("outcome-proposal");
    Array.prototype.forEach.call(byId("outcome-bar").querySelectorAll(".outcome"), function (b) {
      var on = !!proposal && b.getAttribute("data-outcome") === proposal.outcome;
      b.classList.toggle("proposed", on);
      if (on) { b.setAttribute("aria-describedby", "outcome-proposal"); } else { b.removeAttribute("aria-describedby"); }
    });
    if (!proposal) { box.hidden = true; return; }
    box.querySelector(".proposal-line").textContent = proposal.line || "";
    var apply = box.querySelector(".proposal-apply");
    apply.textContent = panelText("proposal_button") + "：" + (proposal.label || outcomeLabel(proposal.outcome));
    box.hidden = false;
  }

  function applyProposal() {
    if (!proposal) { return; }
    // The same chat message as the outcome bar's (or the assistant's own) button for it.
    var logs = proposal.payload.indexOf("/log_outcome") === 0;
    chat.send(proposal.payload, logs ? displayText(proposal.payload) : proposal.line);
  }

  /* ---------- the call list (工作台) ---------- */

  function scheduleFollowupRefresh(delay) {
    clearTimeout(followupTimer);
    followupTimer = setTimeout(loadFollowups, delay);
  }

  /* Start the call with a client of the list: a new call first if this one is about another client,
     then the lookup by id (unambiguous, and no phone number travels in the message). */
  function callClient(id, name) {
    function lookup() {
      chat.send("/lookup_client" + JSON.stringify({ client_id: String(id) }), "查一下" + name);
    }
    if (currentClient && String(currentClient.id) !== String(id)) {
      newCall(lookup);
    } else {
      lookup();
    }
  }

  function listButton(row, className, label, parts) {
    var btn = el("button", className);
    btn.type = "button";
    parts.forEach(function (part) { if (part) { btn.appendChild(part); } });
    btn.setAttribute("aria-label", label);
    btn.addEventListener("click", function () { callClient(row.client_id, row.client || ""); });
    return btn;
  }

  function whenText(row) {
    if (!row.due_at) { return ""; }
    if (row.kind !== "callback") { return friendlyTime(row.due_at).replace(/ 00:00$/, ""); }
    return row.overdue ? panelText("overdue") + " · " + friendlyTime(row.due_at) : friendlyTime(row.due_at);
  }

  function itemRow(row) {
    var classes = "call-item kind-" + row.kind + (row.kind === "callback" ? " followup" : "") +
      (row.overdue ? " overdue" : "") + (row.callable ? "" : " not-now");
    var li = el("li", classes);
    var top = el("span", "f-top");
    top.appendChild(el("strong", "f-name", row.client || ""));
    top.appendChild(el("span", "badge kind kind-" + row.kind, KIND_LABELS[row.kind] || row.kind_label || row.kind));
    var when = whenText(row);
    if (when) { top.appendChild(el("span", "f-when", when)); }
    var opening = row.opening_name ? el("span", "f-opening", panelText("opening") + "：" + row.opening_name) : null;
    var notNow = row.callable ? null : el("span", "f-not-now", panelText("not_now") +
      (row.not_before ? " · " + friendlyTime(row.not_before) : ""));
    var btn = listButton(row, "followup-btn", [row.client, KIND_LABELS[row.kind], when, row.reason,
      row.opening_name ? panelText("opening") + row.opening_name : "", row.callable ? "" : panelText("not_now")]
      .filter(Boolean).join("，"), [top, row.phone ? el("span", "f-phone", row.phone) : null,
      row.reason ? el("span", "f-reason", row.reason) : null, opening, notNow]);
    if (row.note) { btn.title = row.note; }
    li.appendChild(btn);
    return li;
  }

  function unfinishedRow(row) {
    var li = el("li", "call-item unfinished");
    var top = el("span", "f-top");
    top.appendChild(el("strong", "f-name", row.client || ""));
    top.appendChild(el("span", "f-when", friendlyTime(row.at)));
    li.appendChild(listButton(row, "followup-btn", (row.client || "") + "，" + (row.reason || "") + "，" +
      panelText("log_now"), [top, el("span", "f-reason", row.reason || ""),
      el("span", "f-action", panelText("log_now"))]));
    return li;
  }

  function leftOutRow(row) {
    var li = el("li", "left-out-item");
    li.appendChild(el("strong", null, row.client || ""));
    li.appendChild(el("span", "badge kind kind-" + row.kind, KIND_LABELS[row.kind] || row.kind));
    li.appendChild(el("span", "muted", " " + (row.reason || "")));
    return li;
  }

  function renderCallList(data) {
    var list = byId("followups");
    list.textContent = "";
    var items = data.items || [];
    var progress = data.progress || {};
    byId("call-progress").textContent = panelText("progress", {
      called: progress.called || 0, reached: progress.reached || 0, deals: progress.deals || 0 });
    byId("followup-count").textContent = data.total ? "（" + data.total + "）" : "";
    var hours = byId("calling-hours");
    hours.hidden = !data.calling_hours || data.calling_hours.open;
    hours.textContent = hours.hidden ? "" : data.calling_hours.reason || "";

    var unfinished = data.unfinished || [];
    var unfinishedList = byId("unfinished");
    unfinishedList.textContent = "";
    unfinished.forEach(function (row) { unfinishedList.appendChild(unfinishedRow(row)); });
    byId("unfinished-box").hidden = !unfinished.length;

    if (!items.length) { list.appendChild(el("li", "muted", panelText("empty"))); }
    items.forEach(function (row) { list.appendChild(itemRow(row)); });
    var more = byId("call-list-more");
    var hiddenRows = (data.total || 0) - items.length;
    more.hidden = hiddenRows <= 0;
    more.textContent = more.hidden ? "" : panelText("more", { count: hiddenRows });

    var leftOut = data.left_out || [];
    var leftList = byId("left-out-list");
    leftList.textContent = "";
    leftOut.forEach(function (row) { leftList.appendChild(leftOutRow(row)); });
    byId("left-out-count").textContent = leftOut.length ? "（" + leftOut.length + "）" : "";
    byId("left-out").hidden = !leftOut.length;
  }

  function loadFollowups() {
    var errorEl = byId("followups-error");
    // The call in progress never counts against itself, nor is it an unfinished one.
    var id = chat && chat.sessionId();
    window.SalesbotDom.getJSON("/api/call-list" + (id ? "?conversation=" + encodeURIComponent(id) : ""))
      .then(function (data) {
        errorEl.hidden = true;
        renderCallList(data || {});
      })
      .catch(function (err) {
        errorEl.textContent = panelText("load_failed") + "：" + (err && err.message ? err.message : "网络错误");
        errorEl.hidden = false;
      });
  }

  /* ---------- wiring ---------- */

  /* The outcome bar and the shortcuts: buttons drawn from the served labels. */
  function labelButton(container, className, text, onClick) {
    var btn = el("button", className, text);
    btn.type = "button";
    btn.addEventListener("click", onClick);
    container.appendChild(btn);
    return btn;
  }

  LABELS.outcome_bar.forEach(function (code) {
    var btn = labelButton(byId("outcome-bar"), "btn outcome o-" + code, outcomeLabel(code), function () {
      chat.send("/log_outcome" + JSON.stringify({ outcome: code }), displayText("/log_outcome" + JSON.stringify({ outcome: code })));
    });
    btn.setAttribute("data-outcome", code);
  });
  byId("outcome-proposal").querySelector(".proposal-apply").addEventListener("click", applyProposal);
  byId("call-list-title").textContent = panelText("title");
  byId("left-out-title").textContent = panelText("left_out");
  byId("unfinished-title").textContent = panelText("unfinished");

  LABELS.shortcuts.forEach(function (shortcut) {
    labelButton(byId("shortcuts"), "btn chip", LABELS.buttons[shortcut.button] || shortcut.say, function () {
      chat.send(shortcut.say);
    });
  });

  var timeInput = byId("callback-time");
  (function defaultCallbackTime() {
    var now = new Date();
    var local = function (d) {
      return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" +
        pad(d.getHours()) + ":" + pad(d.getMinutes());
    };
    var tomorrow = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1, 10, 0);
    timeInput.min = local(now).slice(0, 14) + "00";
    timeInput.value = local(tomorrow);
  })();

  byId("callback-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var value = timeInput.value;  // "2026-11-24T15:00"
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) {
      chat.notice("请选择回访的日期和时间。");
      timeInput.focus();
      return;
    }
    if (parseLocal(value) < new Date()) {
      chat.notice("回访时间已经过去了，请选一个以后的时间。");
      timeInput.focus();
      return;
    }
    var when = value.slice(0, 10) + " " + value.slice(11, 16);
    chat.send("/schedule_callback" + JSON.stringify({ time: when }), intentLabel("schedule_callback") + "：" + friendlyTime(when));
  });

  byId("new-call").addEventListener("click", function () { newCall(); });
  byId("refresh-followups").addEventListener("click", loadFollowups);

  chat = window.SalesbotChat.create({
    log: log, input: input, form: byId("composer"), status: byId("status"),
    storageKey: "salesbot.session." + (body.getAttribute("data-login") || ""),
    emptyHint: "empty-hint",
    displayText: displayText,
    onBotMessage: onBotMessage,
    onSessionConfirmed: function (id, restored) {
      if (restored && !log.querySelector(".msg")) { loadHistory(id); }
    }
  });
  loadFollowups();
  setInterval(loadFollowups, 60000);
  input.focus();
})();
