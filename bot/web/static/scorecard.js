/* A rehearsal's score card and transcript, drawn the same way on the rehearsal screen (the card
 * that ends a role-play) and on the rehearsal's review page (turns with the card beside them).
 * Labels (outcomes, line functions, objection titles) come from the served labels.yml.
 */
(function () {
  "use strict";
  var el = window.SalesbotDom.el;
  var LABELS = window.SalesbotDom.labels();

  function outcomeLabel(code) { return LABELS.rehearsal_outcomes[code] || code || ""; }

  function item(entry) {
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
    if (entry.feedback) { li.appendChild(el("p", "feedback", entry.feedback)); }
    if (entry.model_line) {
      var model = el("p", "model-line");
      model.appendChild(el("span", "tool-label", "参考话术"));
      model.appendChild(el("span", "say-line", entry.model_line));
      li.appendChild(model);
    }
    return li;
  }

  /* card: {total, outcome, flags, items}. opts.itemsOnly: the page shows total and flags itself. */
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
    (card.items || []).forEach(function (entry) { list.appendChild(item(entry)); });
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
    document.getElementById("rehearsal-card").appendChild(scoreCard(data, { itemsOnly: true }));
  }

  window.SalesbotScore = { scoreCard: scoreCard, turnList: turnList, outcomeLabel: outcomeLabel };
})();
