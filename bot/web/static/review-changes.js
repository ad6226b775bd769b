/* The supervisor's 变更记录 tab (review.html): every import, edit, assignment, account and product
 * change, newest first, filtered by kind; each row says when, who, and what changed in one line the
 * server wrote (GET /api/changes, phone numbers already masked). Kind names come from labels.yml. */
(function () {
  "use strict";
  var Dom = window.SalesbotDom;
  var el = Dom.el;
  var panel = Dom.byId("panel-changes");
  if (!panel) { return; }
  var KINDS = Dom.labels().change_kinds || {};
  var PAGE = 100;
  var kind = Dom.byId("changes-filters").elements.kind;
  var body = Dom.byId("changes-body");
  var table = Dom.byId("changes-table");
  var status = Dom.byId("changes-status");
  var errorBox = Dom.byId("changes-error");
  var more = Dom.byId("changes-more");
  var state = { offset: 0 };
  var request = 0;

  Object.keys(KINDS).forEach(function (code) {
    var option = el("option", null, KINDS[code]);
    option.value = code;
    kind.appendChild(option);
  });

  function row(c) {
    var tr = el("tr", "change-" + c.kind);
    tr.setAttribute("data-change", c.id);
    tr.appendChild(el("td", null, Dom.when(c.at)));
    tr.appendChild(el("td", null, c.by ? c.by_name + "（" + c.by + "）" : c.by_name));
    tr.appendChild(el("td", "change-text", c.text));
    return tr;
  }

  function load(offset) {
    var params = new URLSearchParams({ offset: offset, limit: PAGE });
    if (kind.value) { params.set("kind", kind.value); }
    var mine = ++request;
    status.textContent = "加载中…";
    return Dom.getPage("/api/changes?" + params.toString()).then(function (page) {
      if (mine !== request) { return; }
      Dom.showError(errorBox, null);
      if (!offset) { body.textContent = ""; }
      page.items.forEach(function (c) { body.appendChild(row(c)); });
      state.offset = offset + page.items.length;
      table.hidden = !state.offset;
      more.hidden = state.offset >= page.total;
      status.textContent = page.total ? "共 " + page.total + " 条，已显示 " + state.offset + " 条" : "还没有变更记录。";
    }, function (err) {
      if (mine !== request) { return; }
      status.textContent = "";
      Dom.showError(errorBox, err);
    });
  }

  kind.addEventListener("change", function () { load(0); });
  more.addEventListener("click", function () { load(state.offset); });
  // Read again each time the tab is shown: an assignment in the other tab is a new change.
  panel.addEventListener("tabshown", function () { load(0); });
})();
