/* The rehearsal screen: pick a scenario, role-play it with the simulated customer over the same
 * socket.io chat as the widget (chat.js), read the score card, see the history and progress.
 *
 * Chat protocol (actions/training.py): the page sends /start_training{"scenario": id} in a fresh
 * conversation, then every line the trainee types, and /stop_training to stop and be scored. The
 * bot answers with text plus a custom payload: rehearsal_started, customer_line, score_card.
 */
(function () {
  "use strict";
  var Dom = window.SalesbotDom;
  var byId = Dom.byId;
  var el = Dom.el;
  var LABELS = Dom.labels();
  var Score = window.SalesbotScore;

  var picker = byId("picker");
  var practice = byId("practice");
  var log = byId("log");
  var input = byId("input");
  var sendButton = byId("send");
  var stopButton = byId("stop");
  var currentEl = byId("current-scenario");
  var scenarios = [];
  var current = null;   // the scenario being rehearsed (from /api/scenarios)
  var stopping = false; // the trainee pressed stop: a score card, or a note that there is none
  var chat = null;

  function intentLabel(name) { return LABELS.intents[name] || name; }

  /* ---------- the composer follows the rehearsal ---------- */

  function setComposer(open, canStop) {
    input.disabled = !open;
    sendButton.disabled = !open;
    stopButton.disabled = !canStop;
    if (open) { input.focus(); }
  }

  /* ---------- scenario picker ---------- */

  function scenarioCard(s) {
    var card = el("article", "card scenario-card difficulty-" + s.difficulty);
    card.setAttribute("aria-labelledby", "scenario-" + s.id);
    var head = el("div", "card-head");
    head.appendChild(el("h4", "scenario-title", s.title)).id = "scenario-" + s.id;
    head.appendChild(el("span", "badge difficulty " + s.difficulty, s.difficulty_label || LABELS.difficulties[s.difficulty]));
    if (s.source === "real_call") {  // made by a supervisor from a reviewed live call
      head.appendChild(el("span", "badge source real-call", s.source_label || (LABELS.scenario_sources || {}).real_call));
    }
    card.appendChild(head);
    var p = s.persona || {};
    var facts = el("dl", "facts");
    [["客户", [p.title, p.gender, p.age ? p.age + "岁" : "", p.occupation].filter(Boolean).join(" · ")],
     ["性格", p.temperament], ["需要", p.needs], ["推荐产品", (s.product || {}).name],
     ["建议开场", s.opening_style_label]].forEach(function (f) {
      if (!f[1]) { return; }
      facts.appendChild(el("dt", null, f[0]));
      facts.appendChild(el("dd", null, f[1]));
    });
    card.appendChild(facts);
    var tags = el("div", "tags");
    tags.appendChild(el("span", "tool-label", "会提的异议"));
    (s.objections || []).forEach(function (o) { tags.appendChild(el("span", "tag", o.title || intentLabel(o.intent))); });
    card.appendChild(tags);
    var start = el("button", "btn primary", LABELS.rehearsal_buttons.start);
    start.type = "button";
    start.setAttribute("aria-label", LABELS.rehearsal_buttons.start + "：" + s.title);
    start.addEventListener("click", function () { begin(s); });
    card.appendChild(start);
    return card;
  }

  function drawPicker() {
    var box = byId("scenarios");
    box.textContent = "";
    // Levels in the scenarios' own order (easy to hard): the served label maps are sorted by code.
    var levels = [];
    scenarios.forEach(function (s) { if (levels.indexOf(s.difficulty) === -1) { levels.push(s.difficulty); } });
    levels.forEach(function (level) {
      var group = scenarios.filter(function (s) { return s.difficulty === level; });
      if (!group.length) { return; }
      var section = el("section", "scenario-group");
      section.appendChild(el("h3", null, LABELS.difficulties[level] || level));
      var list = el("div", "scenario-list");
      group.forEach(function (s) { list.appendChild(scenarioCard(s)); });
      section.appendChild(list);
      box.appendChild(section);
    });
    box.setAttribute("aria-busy", "false");
  }

  function loadScenarios() {
    Dom.getJSON("/api/scenarios").then(function (data) {
      scenarios = data;
      Dom.showError(byId("scenarios-error"), null);
      drawPicker();
    }, function (err) { Dom.showError(byId("scenarios-error"), err); });
  }

  function showPicker() {
    current = null;
    practice.hidden = true;
    picker.hidden = false;
    currentEl.textContent = "";
    byId("picker-title").focus();
  }

  /* A rehearsal always gets a conversation of its own: its transcript is that rehearsal's. */
  function begin(s) {
    current = s;
    stopping = false;
    picker.hidden = true;
    practice.hidden = false;
    currentEl.textContent = s.title;
    setComposer(false, false);
    chat.newSession(function () {
      chat.notice("练习开始：" + s.title, "info");
      chat.send("/start_training" + JSON.stringify({ scenario: s.id }), false);
    });
  }

  /* ---------- the bot's rehearsal payloads ---------- */

  function briefCard(payload) {
    var s = payload.scenario || {};
    var p = s.persona || {};
    var card = el("article", "card brief-card");
    card.setAttribute("aria-label", "练习场景：" + (s.title || ""));
    var head = el("div", "card-head");
    head.appendChild(el("span", "card-title", s.title || ""));
    if (s.difficulty) { head.appendChild(el("span", "badge difficulty " + s.difficulty, LABELS.difficulties[s.difficulty] || s.difficulty)); }
    card.appendChild(head);
    var facts = el("dl", "facts");
    [["客户", [p.title, p.occupation].filter(Boolean).join(" · ")], ["性格", p.temperament], ["需要", p.needs],
     ["推荐产品", s.product]].forEach(function (f) {
      if (!f[1]) { return; }
      facts.appendChild(el("dt", null, f[0]));
      facts.appendChild(el("dd", null, f[1]));
    });
    card.appendChild(facts);
    if (s.brief) { card.appendChild(el("p", "brief", s.brief)); }
    return card;
  }

  function customerLine(payload) {
    var box = el("div", "customer-line mood-" + (payload.mood || "neutral"));
    var head = el("div", "customer-head");
    head.appendChild(el("span", "speaker", payload.speaker || "客户"));
    if (payload.mood) { head.appendChild(el("span", "chip-static mood " + payload.mood, LABELS.moods[payload.mood] || payload.mood)); }
    box.appendChild(head);
    box.appendChild(el("div", "bubble", payload.line || ""));
    if (payload.ended) {
      box.appendChild(el("div", "ended", "通话结束：" + (Score.outcomeLabel(payload.outcome) || "—")));
    }
    return box;
  }

  /* What the trainee's last line did (customer_line.trainee_functions), under their bubble. */
  function tagLastLine(functions) {
    var rows = log.querySelectorAll(".msg.user");
    var row = rows[rows.length - 1];
    if (!row || !functions || !functions.length || row.querySelector(".line-tags")) { return; }
    var tags = el("div", "tags line-tags");
    tags.setAttribute("aria-label", "这句话的作用");
    functions.forEach(function (f) { tags.appendChild(el("span", "tag fn fn-" + f, LABELS.line_functions[f] || f)); });
    row.appendChild(tags);
  }

  function scoreActions() {
    var row = el("div", "score-actions");
    var again = el("button", "btn primary", LABELS.rehearsal_buttons.again);
    again.type = "button";
    var rehearsed = current;
    again.addEventListener("click", function () { if (rehearsed) { begin(rehearsed); } });
    var pick = el("button", "btn", LABELS.rehearsal_buttons.pick);
    pick.type = "button";
    pick.addEventListener("click", showPicker);
    row.appendChild(again);
    row.appendChild(pick);
    return row;
  }

  /* A reply whose payload has a card of its own: the card stands in for the reply's text (which
     says what the card shows), the buttons beneath. False for any other payload. */
  function renderCard(custom, text, buttons) {
    switch (custom.type) {
      case "rehearsal_started":
        var s = custom.scenario || {};
        if (!current || current.id !== s.id) {
          current = scenarios.filter(function (x) { return x.id === s.id; })[0] || { id: s.id, title: s.title };
          currentEl.textContent = s.title || "";
        }
        chat.renderCard(briefCard(custom), buttons);
        setComposer(true, true);
        return true;
      case "customer_line":
        tagLastLine(custom.trainee_functions);
        chat.renderCard(customerLine(custom), buttons);
        // The customer has ended the call: the score card follows, nothing more to say.
        if (custom.ended) { setComposer(false, true); }
        return true;
      case "score_card":
        var card = Score.scoreCard(custom);
        if (custom.rehearsal_id) {
          var link = el("a", "detail-link", "查看逐句记录和评分详情");
          link.href = "/review/rehearsals/" + custom.rehearsal_id;
          card.appendChild(link);
        }
        card.appendChild(scoreActions());
        if (custom.saved === false && text) {
          // The text ends with why the record could not be kept: the card must not hide it.
          card.insertBefore(el("p", "banner warn", text.split("\n").pop()), card.lastChild);
        }
        var row = chat.renderCard(card, buttons);
        stopping = false;
        setComposer(false, false);
        row.scrollIntoView({ block: "start" });  // the total first; the items below it
        card.querySelector(".score-actions .btn").focus({ preventScroll: true });  // keyboard: what next
        loadHistory();
        return true;
      case "rehearsal_stopped":
        // Stopped without a score (nothing said yet, or nothing running): the text says why,
        // then the next step is offered.
        stopping = false;
        setComposer(false, false);
        if (text || buttons.length) { chat.renderBotText(text, buttons); }
        chat.renderCard(scoreActions());
        return true;
      default:
        return false;
    }
  }

  /* One bot_uttered event, one reply: {text, quick_replies|buttons, custom}: its card, or its text
     bubble (with the buttons) and then a payload's own text. */
  function onBotMessage(message) {
    // The stop button is always in the tool bar: no second one under the brief.
    var buttons = (message.quick_replies || message.buttons || []).filter(function (b) {
      return b && b.payload !== "/stop_training";
    });
    var custom = message.custom || (message.type && !message.text ? message : null);
    if (!custom || typeof custom !== "object") { custom = null; }
    var text = String(message.text || "");
    if (custom && renderCard(custom, text, buttons)) { return; }
    if (text || buttons.length) { chat.renderBotText(text, buttons); }
    if (custom && custom.text && custom.text !== message.text) { chat.renderBotText(String(custom.text)); }
  }

  /* ---------- history, progress, comments ---------- */

  function historyItem(r) {
    var li = el("li", "history-item");
    var link = el("a", "history-link");
    link.href = "/review/rehearsals/" + r.id;
    var top = el("span", "h-top");
    top.appendChild(el("strong", null, r.scenario_title));
    top.appendChild(el("span", "h-total", r.total === null || r.total === undefined ? "—" : r.total + " 分"));
    link.appendChild(top);
    var meta = el("span", "h-meta", Dom.when(r.started_at) + (r.outcome_label ? " · " + r.outcome_label : ""));
    link.appendChild(meta);
    if (r.flags && r.flags.length) { link.appendChild(el("span", "h-flags", "违规：" + r.flags.join("、"))); }
    if (r.comments) { link.appendChild(el("span", "h-comments", "主管点评 " + r.comments + " 条")); }
    li.appendChild(link);
    return li;
  }

  function loadHistory() {
    var list = byId("history");
    Dom.getJSON("/api/rehearsals").then(function (rows) {
      Dom.showError(byId("history-error"), null);
      list.textContent = "";
      byId("history-count").textContent = rows.length ? "（" + rows.length + "）" : "";
      if (!rows.length) { list.appendChild(el("li", "muted", "还没有练习记录。")); }
      rows.slice(0, 30).forEach(function (r) { list.appendChild(historyItem(r)); });
    }, function (err) { Dom.showError(byId("history-error"), err); });
    loadProgress();
  }

  var lastProgress = null;

  function drawProgress() {
    window.SalesbotCharts.lineChart(byId("progress-chart"), (lastProgress || []).map(function (s) {
      return { label: s.name, points: s.points.map(function (p) { return { day: p.day, value: p.average }; }) };
    }), { id: "svg-progress", title: "我的每日平均分", height: 200, empty: "完成一次练习后，这里会显示你的成绩变化。" });
  }

  function loadProgress() {
    Dom.getJSON("/api/rehearsals/progress").then(function (series) {
      lastProgress = series;
      drawProgress();
    }, function (err) { Dom.showError(byId("history-error"), err); });
  }

  /* ---------- wiring ---------- */

  stopButton.addEventListener("click", function () {
    if (chat.send("/stop_training", LABELS.rehearsal_buttons.stop)) {
      stopping = true;
      setComposer(false, false);
    }
  });
  byId("back-to-picker").addEventListener("click", showPicker);
  byId("refresh-history").addEventListener("click", loadHistory);

  chat = window.SalesbotChat.create({
    log: log, input: input, form: byId("composer"), status: byId("status"),
    storageKey: null,  // every rehearsal opens its own conversation (begin)
    typingText: "客户正在回应…",
    onBotMessage: onBotMessage
  });
  setComposer(false, false);
  loadScenarios();
  loadHistory();
  window.SalesbotCharts.redrawOnResize(function () { if (lastProgress) { drawProgress(); } });
})();
