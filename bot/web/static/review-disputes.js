/* Score card disputes in the 陪练 tab of the supervisor review (review.html): open ones first, the
 * longest waiting on top, each with a comment box and the accept / reject buttons; answered ones
 * with the points and the total before and after. The server decides who may answer and what an
 * accepted dispute does to the total (GET /api/disputes, POST /api/disputes/<id>); this only draws.
 * Button texts and statuses come from the served labels.yml (dispute_buttons, dispute_statuses).
 */
(function () {
  "use strict";
  var Dom = window.SalesbotDom;
  var el = Dom.el;
  var section = Dom.byId("rehearsal-disputes");
  if (!section) { return; }
  var LABELS = Dom.labels();
  var TEXT = LABELS.dispute_buttons || {};
  var STATUS = LABELS.dispute_statuses || {};
  var panel = Dom.byId("panel-rehearsals");
  var body = Dom.byId("disputes-body");
  var table = Dom.byId("disputes-table");
  var status = Dom.byId("disputes-status");
  var errorBox = Dom.byId("disputes-error");
  var count = Dom.byId("disputes-open-count");
  var loading = false;

  /* The item's points as they stand: before the answer while open, after it once answered. */
  function points(d) {
    var now = d.status === "open" ? d.points_before : d.points_after;
    return (now === null || now === undefined ? "—" : now) + "/" +
      (d.max_points === null || d.max_points === undefined ? "—" : d.max_points);
  }

  function answerForm(d) {
    var form = el("form", "dispute-form");
    var id = "dispute-comment-" + d.id;
    var label = el("label", "visually-hidden", TEXT.comment);
    label.htmlFor = id;
    var text = el("textarea");
    text.id = id;
    text.name = "comment";
    text.rows = 2;
    text.maxLength = 2000;
    text.placeholder = TEXT.comment || "";
    form.appendChild(label);
    form.appendChild(text);
    [["accept", true], ["reject", false]].forEach(function (b) {
      var button = el("button", "btn small" + (b[1] ? " primary" : ""), TEXT[b[0]]);
      button.type = "submit";
      button.setAttribute("data-accept", b[1] ? "true" : "false");
      button.setAttribute("aria-label", (TEXT[b[0]] || "") + "：" + (d.trainee_name || d.login) + " " + (d.item_title || d.item));
      form.appendChild(button);
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var accept = (e.submitter || form.querySelector("[data-accept=true]")).getAttribute("data-accept") === "true";
      var buttons = form.querySelectorAll("button");
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
      Dom.postJSON("/api/disputes/" + d.id, { accept: accept, comment: text.value },
        section.getAttribute("data-csrf")).then(function () {
        Dom.showError(errorBox, null);
        // An accepted dispute changes a total: the rehearsal list and chart beside it are redrawn.
        if (panel && !panel.hidden) { panel.dispatchEvent(new CustomEvent("tabshown")); } else { load(); }
      }, function (err) {
        Dom.showError(errorBox, err);
        Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
        text.focus();
      });
    });
    return form;
  }

  function outcome(d) {
    var box = el("div", "dispute-outcome");
    box.appendChild(el("div", "muted", Dom.when(d.resolved_at) + " " + (d.resolver_name || d.resolver || "")));
    box.appendChild(el("div", null, d.item_title + " " + d.points_before + " → " + d.points_after + "，总分 " +
      d.total_before + " → " + d.total_after));
    if (d.comment) { box.appendChild(el("p", "dispute-comment", d.comment)); }
    return box;
  }

  function row(d) {
    var tr = el("tr", "dispute-" + d.status);
    tr.setAttribute("data-dispute", d.id);
    tr.appendChild(el("td", "nowrap", Dom.when(d.created_at)));
    var who = el("td", null, d.trainee_name || d.login);
    who.title = d.login;
    tr.appendChild(who);
    var scenario = el("td");
    var link = el("a", null, d.scenario_title);
    link.href = d.url;
    scenario.appendChild(link);
    tr.appendChild(scenario);
    var item = el("td");
    item.appendChild(el("strong", null, d.item_title || d.item));
    item.appendChild(el("div", "muted num", points(d)));
    tr.appendChild(item);
    tr.appendChild(el("td", "dispute-text", d.text));
    var state = el("td");
    state.appendChild(el("span", "badge" + (d.status === "open" ? " danger" : ""), d.status_label || STATUS[d.status] || d.status));
    tr.appendChild(state);
    var handling = el("td");
    handling.appendChild(d.status === "open" ? answerForm(d) : outcome(d));
    tr.appendChild(handling);
    return tr;
  }

  function load() {
    if (loading) { return; }
    loading = true;
    Dom.getJSON("/api/disputes").then(function (all) {
      Dom.showError(errorBox, null);
      var open = all.filter(function (d) { return d.status === "open"; });
      body.textContent = "";
      all.forEach(function (d) { body.appendChild(row(d)); });
      table.hidden = !all.length;
      count.hidden = !open.length;
      count.textContent = open.length + "条" + (STATUS.open || "");
      status.textContent = open.length ? "" : "没有待处理的申诉。";
    }, function (err) {
      status.textContent = "";
      Dom.showError(errorBox, err);
    }).then(function () { loading = false; });
  }

  if (panel) { panel.addEventListener("tabshown", load); }
  load();
})();
