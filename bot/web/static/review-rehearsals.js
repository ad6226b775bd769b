/* The 陪练 tab of the supervisor review: every rehearsal (trainee, scenario, date, outcome, total,
 * flags) and each trainee's average score per day as a line chart. Drawn when the tab is shown
 * (review.js sends "tabshown" to the panel).
 */
(function () {
  "use strict";
  var Dom = window.SalesbotDom;
  var byId = Dom.byId;
  var el = Dom.el;
  var panel = byId("panel-rehearsals");
  var loading = false;
  var lastProgress = null;

  function row(r) {
    var tr = el("tr", r.flags && r.flags.length ? "flagged" : null);
    tr.appendChild(el("td", "nowrap", Dom.when(r.started_at)));
    var who = el("td", null, r.name || r.login);
    who.title = r.login;
    tr.appendChild(who);
    tr.appendChild(el("td", "strong", r.scenario_title));
    var outcome = el("td");
    outcome.appendChild(el("span", "outcome-badge rehearsal-" + (r.outcome || "none"), r.outcome_label || "—"));
    tr.appendChild(outcome);
    tr.appendChild(el("td", "num score", r.total === null || r.total === undefined ? "—" : r.total));
    var flags = el("td");
    if (r.flags && r.flags.length) {
      var tags = el("div", "tags");
      r.flags.forEach(function (f) { tags.appendChild(el("span", "tag danger", f)); });
      flags.appendChild(tags);
    } else {
      flags.appendChild(el("span", "muted", "无"));
    }
    tr.appendChild(flags);
    tr.appendChild(el("td", "num", r.comments || 0));
    var link = el("td");
    var a = el("a", null, "查看");
    a.href = "/review/rehearsals/" + r.id;
    a.setAttribute("aria-label", "查看 " + (r.name || r.login) + " " + Dom.when(r.started_at) + " 的练习：" + r.scenario_title);
    link.appendChild(a);
    tr.appendChild(link);
    return tr;
  }

  function drawChart() {
    window.SalesbotCharts.lineChart(byId("chart-rehearsals"), (lastProgress || []).map(function (s) {
      return { label: s.name + "（" + s.login + "）", points: s.points.map(function (p) { return { day: p.day, value: p.average }; }) };
    }), { id: "svg-rehearsals", title: "各学员每日平均分", legend: true, empty: "还没有评过分的练习。" });
  }

  function load() {
    if (loading) { return; }
    loading = true;
    byId("rehearsals-status").textContent = "加载中…";
    Promise.all([Dom.getJSON("/api/rehearsals"), Dom.getJSON("/api/rehearsals/progress")]).then(function (data) {
      var rows = data[0];
      Dom.showError(byId("rehearsals-error"), null);
      var body = byId("rehearsals-body");
      body.textContent = "";
      if (!rows.length) {
        var td = el("td", "empty", "还没有人练习过。");
        td.colSpan = 8;
        body.appendChild(el("tr")).appendChild(td);
      }
      rows.forEach(function (r) { body.appendChild(row(r)); });
      byId("rehearsals-status").textContent = rows.length ? "共 " + rows.length + " 次练习" : "";
      lastProgress = data[1];
      drawChart();
    }).catch(function (err) {
      byId("rehearsals-status").textContent = "";
      Dom.showError(byId("rehearsals-error"), err);
    }).then(function () { loading = false; });
  }

  panel.addEventListener("tabshown", load);
  window.SalesbotCharts.redrawOnResize(function () { if (lastProgress && !panel.hidden) { drawChart(); } });
})();
