/* The supervisor's 待学习语句 tab (review.html): lines agents explained on the floor, grouped by the
 * intent they chose; accept or reject one, a checked few, or a whole group, and correct the intent
 * before accepting. The server decides who may (GET /api/floor/candidates, POST .../decide) and
 * keeps every decision in the change log. */
(function () {
  "use strict";
  var Dom = window.SalesbotDom;
  var el = Dom.el;
  var panel = Dom.byId("panel-floor");
  if (!panel) { return; }
  var statusSelect = Dom.byId("floor-filters").elements.status;
  var groupsBox = Dom.byId("floor-groups");
  var status = Dom.byId("floor-status");
  var report = Dom.byId("floor-report");
  var errorBox = Dom.byId("floor-error");
  var count = Dom.byId("floor-count");
  var SOURCES = Dom.labels().floor_sources || {};
  var STATUSES = Dom.labels().floor_statuses || {};
  var ORDER = Dom.labels().floor_status_order || Object.keys(STATUSES);
  var request = 0;

  ORDER.forEach(function (code) {
    var option = el("option", null, STATUSES[code]);
    option.value = code;
    statusSelect.appendChild(option);
  });

  function decide(ids, decision, intent) {
    var body = { ids: ids, decision: decision };
    if (intent) { body.intent = intent; }
    return Dom.postJSON("/api/floor/candidates/decide", body, panel.getAttribute("data-csrf")).then(function (r) {
      Dom.showError(errorBox, null);
      status.textContent = r.message;
      return load(true);
    }, function (err) { Dom.showError(errorBox, err); });
  }

  function intentSelect(intents, current, label) {
    var select = el("select", "floor-intent");
    select.setAttribute("aria-label", label);
    Object.keys(intents).forEach(function (code) {
      var option = el("option", null, intents[code]);
      option.value = code;
      option.selected = code === current;
      select.appendChild(option);
    });
    return select;
  }

  function row(c, intents, pending) {
    var tr = el("tr");
    tr.setAttribute("data-candidate", c.id);
    var pick = el("td");
    if (pending) {
      var box = el("input");
      box.type = "checkbox";
      box.value = c.id;
      box.setAttribute("aria-label", "选择：" + c.text);
      pick.appendChild(box);
    }
    tr.appendChild(pick);
    tr.appendChild(el("td", "floor-text", c.text));
    tr.appendChild(el("td", null, c.predicted_title ? c.predicted_title + (c.confidence !== null ? "（" + Math.round(c.confidence * 100) + "%）" : "") : "—"));
    tr.appendChild(el("td", null, (SOURCES[c.source] || c.source) + (c.times > 1 ? " ×" + c.times : "")));
    tr.appendChild(el("td", null, (c.by || "") + " " + Dom.when(c.at)));
    var act = el("td");
    if (pending) {
      var select = intentSelect(intents, c.intent, "意思：" + c.text);
      act.appendChild(select);
      var accept = el("button", "btn small primary", "采纳");
      accept.type = "button";
      accept.addEventListener("click", function () {
        decide([c.id], "accept", select.value !== c.intent ? select.value : null);
      });
      var reject = el("button", "btn small", "不采纳");
      reject.type = "button";
      reject.addEventListener("click", function () { decide([c.id], "reject"); });
      act.appendChild(accept);
      act.appendChild(reject);
    } else {
      act.textContent = (c.decided_by || "") + (c.floor_version ? " · 第" + c.floor_version + "版训练数据" : "");
    }
    tr.appendChild(act);
    return tr;
  }

  function group(g, intents, pending) {
    var box = el("section", "floor-group");
    box.setAttribute("data-intent", g.intent);
    box.appendChild(el("h3", null, g.title + "（" + g.candidates.length + "）"));
    var table = el("table", "data");
    var head = el("thead");
    var tr = el("tr");
    ["", "语句", "模型原来的理解", "来源", "坐席 · 时间", pending ? "意思" : "处理人"].forEach(function (h) {
      var th = el("th", null, h);
      th.scope = "col";
      tr.appendChild(th);
    });
    head.appendChild(tr);
    table.appendChild(head);
    var tbody = el("tbody");
    g.candidates.forEach(function (c) { tbody.appendChild(row(c, intents, pending)); });
    table.appendChild(tbody);
    box.appendChild(table);
    if (pending) {
      var bar = el("p", "floor-bulk");
      [["采纳勾选的", "accept"], ["不采纳勾选的", "reject"], ["本组全部采纳", "accept-all"]].forEach(function (b) {
        var button = el("button", "btn small" + (b[1] === "accept-all" ? " primary" : ""), b[0]);
        button.type = "button";
        button.setAttribute("data-bulk", b[1]);
        button.addEventListener("click", function () {
          var all = b[1] === "accept-all";
          var ids = Array.prototype.filter.call(tbody.querySelectorAll("input[type=checkbox]"), function (x) {
            return all || x.checked;
          }).map(function (x) { return Number(x.value); });
          if (!ids.length) { Dom.showError(errorBox, new Error("请至少勾选一条语句。")); return; }
          decide(ids, all ? "accept" : b[1]);
        });
        bar.appendChild(button);
      });
      box.appendChild(bar);
    }
    return box;
  }

  function reportText(r) {
    if (!r) { return "还没有用采纳的语句训练过。采纳后运行 salesbot train（或 make run）即可。"; }
    var parts = Object.keys(r.sets).map(function (name) {
      var s = r.sets[name];
      var label = name === "clean" ? "标准留出集" : name === "realistic" ? "真实输入留出集" : name;
      return label + " " + (s[0] === null ? "—" : (s[0] * 100).toFixed(1) + "%") + " → " + (s[1] * 100).toFixed(1) + "%";
    });
    return "最近一次训练（第" + r.version + "版，" + r.examples + "条采纳语句，" + Dom.when(r.at) + "）意图准确率：" + parts.join("，");
  }

  function load(keepStatus) {
    var mine = ++request;
    if (!keepStatus) { status.textContent = "加载中…"; }
    var params = new URLSearchParams({ status: statusSelect.value });
    return Dom.getJSON("/api/floor/candidates?" + params.toString()).then(function (data) {
      if (mine !== request) { return; }
      Dom.showError(errorBox, null);
      var pending = data.status === "pending";
      groupsBox.textContent = "";
      data.groups.forEach(function (g) { groupsBox.appendChild(group(g, data.intents, pending)); });
      count.hidden = !data.counts.pending;
      count.textContent = data.counts.pending;
      report.textContent = reportText(data.report);
      if (!keepStatus) {
        status.textContent = data.groups.length ? ORDER.map(function (code) {
          return STATUSES[code] + " " + (data.counts[code] || 0) + " 条";
        }).join("，") : "没有这类语句。";
      }
    }, function (err) {
      if (mine !== request) { return; }
      status.textContent = "";
      Dom.showError(errorBox, err);
    });
  }

  statusSelect.addEventListener("change", function () { load(false); });
  panel.addEventListener("tabshown", function () { load(false); });
}());
