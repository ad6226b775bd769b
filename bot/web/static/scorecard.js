/* A rehearsal's score card and transcript, drawn the same way on the rehearsal screen (the card
 * that ends a role-play) and on the rehearsal's review page (turns with the card beside them).
 * Labels (outcomes, line functions, objection titles) come from the served labels.yml.
 */
(function () {
  "use strict";
  var el = window.SalesbotDom.el;
  var LABELS = window.SalesbotDom.labels();

  function outcomeLabel(code) { return LABELS.rehearsal_outcomes[code] || code || ""; }

  /* ---------- disputes: the trainee's 申诉 beside an item below full points (stored card) ---------- */

  var DISPUTE = LABELS.dispute_buttons || {};
  var DISPUTE_STATUS = LABELS.dispute_statuses || {};

  /* An item's dispute as it stands: 已申诉 while open, then the supervisor's answer. */
  function disputeState(d) {
    var box = el("div", "dispute-state dispute-" + d.status);
    box.appendChild(el("span", "tag" + (d.status === "rejected" ? " danger" : ""),
      d.status === "open" ? DISPUTE.disputed : (d.status_label || DISPUTE_STATUS[d.status] || d.status)));
    if (d.comment) { box.appendChild(el("span", "dispute-comment", d.comment)); }
    return box;
  }

  /* The 申诉 button; pressed, it asks for one sentence and posts it (POST /api/rehearsals/<id>/disputes). */
  function disputeButton(entry, dispute) {
    var box = el("div", "dispute-box");
    var open = el("button", "btn small ghost", DISPUTE.dispute);
    open.type = "button";
    open.setAttribute("aria-label", (DISPUTE.dispute || "") + "：" + (entry.title || entry.key));
    box.appendChild(open);
    open.addEventListener("click", function () {
      open.hidden = true;
      var form = el("form", "dispute-form");
      var id = "dispute-" + entry.key;
      var label = el("label", "visually-hidden", DISPUTE.reason);
      label.htmlFor = id;
      var text = el("input");
      text.id = id;
      text.type = "text";
      text.maxLength = 500;
      text.required = true;
      text.placeholder = DISPUTE.reason || "";
      var send = el("button", "btn small primary", DISPUTE.submit);
      send.type = "submit";
      var cancel = el("button", "btn small ghost", DISPUTE.cancel);
      cancel.type = "button";
      var error = el("p", "inline-error");
      error.setAttribute("role", "alert");
      error.hidden = true;
      [label, text, send, cancel, error].forEach(function (n) { form.appendChild(n); });
      cancel.addEventListener("click", function () { box.removeChild(form); open.hidden = false; open.focus(); });
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        send.disabled = true;
        window.SalesbotDom.postJSON("/api/rehearsals/" + dispute.rehearsalId + "/disputes",
          { item: entry.key, text: text.value }, dispute.csrf).then(function (made) {
          box.textContent = "";
          box.appendChild(disputeState(made));
        }, function (err) {
          window.SalesbotDom.showError(error, err);
          send.disabled = false;
          text.focus();
        });
      });
      box.appendChild(form);
      text.focus();
    });
    return box;
  }

  function disputePart(entry, dispute) {
    var made = (dispute.list || []).filter(function (d) { return d.item === entry.key; })[0];
    if (made) { return disputeState(made); }
    if (dispute.may && entry.points < entry.max_points) { return disputeButton(entry, dispute); }
    return null;
  }

  /* entry: a card item; dispute (the stored card only): {rehearsalId, list, may, csrf}. */
  function item(entry, dispute) {
    var full = entry.points >= entry.max_points;
    var li = el("li", "score-item " + (full ? "full" : "miss"));
    var head = el("div", "score-item-head");
    head.appendChild(el("strong", null, entry.title || entry.key));
    head.appendChild(el("span", "points", entry.points + "/" + entry.max_points));
    li.appendChild(head);
    var meter = el("div", "meter");
    meter.setAttribute("aria-hidden", "true");
    var fill = el("span");
    fill.style.width = (entry.max_points ? Math.round(100 * entry.points / entry.max_points) : 0) + "%";
    meter.appendChild(fill);
    li.appendChild(meter);
    if (entry.checks && entry.checks.length) {
      /* The item's yes/no checks: what met each one (第3句) or why it was not met. */
      var checks = el("ul", "score-checks");
      entry.checks.forEach(function (check) {
        var row = el("li", check.ok ? "check-ok" : "check-missed");
        row.appendChild(el("span", "check-mark", check.ok ? "✓" : "✗"));
        row.appendChild(el("span", "check-label", check.label));
        row.appendChild(el("span", "check-where", check.where));
        checks.appendChild(row);
      });
      li.appendChild(checks);
    }
    if (entry.feedback) { li.appendChild(el("p", "feedback", entry.feedback)); }
    if (entry.model_line) {
      var model = el("p", "model-line");
      model.appendChild(el("span", "tool-label", "参考话术"));
      model.appendChild(el("span", "say-line", entry.model_line));
      li.appendChild(model);
    }
    var disputed = dispute ? disputePart(entry, dispute) : null;
    if (disputed) { li.appendChild(disputed); }
    return li;
  }

  /* card: {total, outcome, flags, items}. opts.itemsOnly: the page shows total and flags itself;
     opts.dispute: the stored card's disputes ({rehearsalId, list, may, csrf}). */
  function scoreCard(card, opts) {
    opts = opts || {};
    var box = el(opts.itemsOnly ? "div" : "article", opts.itemsOnly ? "score-items-box" : "card score-card");
    if (!opts.itemsOnly) {
      box.setAttribute("aria-label", "练习评分");
      var head = el("div", "card-head");
      head.appendChild(el("span", "score-total", "总分 " + card.total + " 分"));
      if (card.outcome) { head.appendChild(el("span", "badge outcome-" + card.outcome, outcomeLabel(card.outcome))); }
      box.appendChild(head);
      if (card.flags && card.flags.length) {
        var flags = el("p", "banner danger", "违规：" + card.flags.join("、"));
        flags.setAttribute("role", "alert");
        box.appendChild(flags);
      }
    }
    var list = el("ol", "score-items");
    (card.items || []).forEach(function (entry) { list.appendChild(item(entry, opts.dispute)); });
    box.appendChild(list);
    return box;
  }

  /* turns: [{speaker: trainee|customer, text, objection, functions}]; names: {trainee, customer}. */
  function turnList(turns, names) {
    var list = el("ol", "turns rehearsal-turns");
    (turns || []).forEach(function (t) {
      var trainee = t.speaker === "trainee";
      var li = el("li", "turn " + (trainee ? "trainee" : "customer"));
      li.appendChild(el("span", "speaker", trainee ? names.trainee : names.customer));
      var body = el("div", "body");
      body.appendChild(el("div", "text", t.text || ""));
      var meta = el("div", "meta");
      if (trainee) {
        (t.functions || []).forEach(function (f) {
          meta.appendChild(el("span", "tag fn fn-" + f, LABELS.line_functions[f] || f));
        });
      } else if (t.objection) {
        var tag = el("span", "intent", LABELS.intents[t.objection] || t.objection);
        tag.title = t.objection;
        meta.appendChild(tag);
      }
      if (meta.childNodes.length) { body.appendChild(meta); }
      li.appendChild(body);
      list.appendChild(li);
    });
    if (!list.childNodes.length) { list.appendChild(el("li", "muted", "这次练习没有保存逐句记录。")); }
    return list;
  }

  /* The rehearsal review page: the server embedded the rehearsal as JSON. */
  var data = window.SalesbotDom.embedded("rehearsal-data");
  if (data) {
    var scenario = data.scenario || {};
    var persona = scenario.persona || {};
    document.getElementById("rehearsal-turns").appendChild(
      turnList(data.turns, { trainee: data.name || data.login, customer: persona.title || "客户" }));
    var cardBox = document.getElementById("rehearsal-card");
    cardBox.appendChild(scoreCard(data, { itemsOnly: true, dispute: {
      rehearsalId: data.id, list: data.disputes, may: data.may_dispute === true,
      csrf: cardBox.getAttribute("data-csrf") } }));
  }

  window.SalesbotScore = { scoreCard: scoreCard, turnList: turnList, outcomeLabel: outcomeLabel };
})();
