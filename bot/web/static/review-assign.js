/* The supervisor's 分配客户 tab (review.html): a filter bar, the matching clients a page at a time with
 * checkboxes, the agents to give them to (evenly when several), the result line, and the unassigned
 * pool with why each client is in it. The pool's size shows on the tab. The server decides who may
 * do this and checks every request (GET /api/book/..., POST /api/book/assign); this only draws. */
(function () {
  "use strict";
  var Dom = window.SalesbotDom;
  var el = Dom.el;
  var panel = Dom.byId("panel-assign");
  if (!panel) { return; }
  var LABELS = Dom.labels();
  var PAGE = 50;
  var FILTERS = ["segment", "tier", "stage", "agent", "never_called", "unassigned"];
  var form = Dom.byId("assign-filters");
  var body = Dom.byId("assign-body");
  var table = Dom.byId("assign-table");
  var status = Dom.byId("assign-status");
  var errorBox = Dom.byId("assign-error");
  var all = Dom.byId("assign-all");
  var agentsBox = Dom.byId("assign-agents");
  var submit = Dom.byId("assign-submit");
  var result = Dom.byId("assign-result");
  var tabCount = Dom.byId("pool-count");
  var state = { offset: 0, total: 0, query: "", selected: {}, shown: [], loaded: false, poolOffset: 0 };
  var request = 0;

  function stageLabel(code) { return LABELS.stages[code] || code; }

  function fillSelect(select, items, value, label) {
    var keep = select.value;
    while (select.options.length > 1) { select.remove(1); }
    items.forEach(function (item) {
      var option = el("option", null, label(item));
      option.value = value(item);
      select.appendChild(option);
    });
    select.value = keep;
  }

  /* The choices (segments, tiers, stages, agents) and the pool's size on the tab. */
  function loadChoices() {
    return Dom.getJSON("/api/book/choices").then(function (choices) {
      var code = function (c) { return c.code; };
      var label = function (c) { return c.label; };
      fillSelect(form.elements.segment, choices.segments, code, label);
      fillSelect(form.elements.tier, choices.tiers, code, label);
      fillSelect(form.elements.stage, choices.stages, code, label);
      fillSelect(form.elements.agent, choices.agents, function (a) { return a.login; }, function (a) {
        return a.name + "（" + a.login + "）" + (a.active ? "" : " 已停用") + " · " + a.clients + " 位";
      });
      drawAgents(choices.agents.filter(function (a) { return a.active; }));
      tabCount.hidden = !choices.pool;
      tabCount.textContent = choices.pool + " 未分配";
      Dom.byId("pool-title-count").textContent = choices.pool;
    });
  }

  function drawAgents(agents) {
    var ticked = {};
    Array.prototype.forEach.call(agentsBox.querySelectorAll("input:checked"), function (i) { ticked[i.value] = true; });
    agentsBox.textContent = "";
    if (!agents.length) { agentsBox.appendChild(el("p", "muted", "没有可以接收客户的坐席账号。")); }
    agents.forEach(function (a) {
      var label = el("label", "assign-agent");
      var box = el("input");
      box.type = "checkbox";
      box.name = "assign-agent";
      box.value = a.login;
      box.checked = !!ticked[a.login];
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + a.name + "（" + a.login + "）· 现有 " + a.clients + " 位"));
      agentsBox.appendChild(label);
    });
  }

  function filterParams() {
    var params = new URLSearchParams();
    FILTERS.forEach(function (name) {
      var field = form.elements[name];
      var value = field.type === "checkbox" ? (field.checked ? "1" : "") : field.value;
      if (value) { params.set(name, value); }
    });
    return params;
  }

  function filterObject() {
    var wanted = {};
    filterParams().forEach(function (value, name) { wanted[name] = value; });
    return wanted;
  }

  function selectedIds() {
    return Object.keys(state.selected).map(function (id) { return parseInt(id, 10); });
  }

  function showCounts() {
    Dom.byId("assign-selected-count").textContent = selectedIds().length;
    Dom.byId("assign-filter-count").textContent = state.total;
    var boxes = body.querySelectorAll("input[type=checkbox]");
    all.checked = boxes.length > 0 && Array.prototype.every.call(boxes, function (b) { return b.checked; });
  }

  /* Name (with the do-not-call badge), phone as the server masked it, and stage: both tables. */
  function clientCells(tr, c) {
    var name = el("td", null, c.name);
    if (c.do_not_call) { name.appendChild(el("span", "badge danger", LABELS.dispositions.do_not_call)); }
    tr.appendChild(name);
    tr.appendChild(el("td", "phone", c.phone));
    var stage = el("td");
    stage.appendChild(el("span", "badge stage stage-" + c.stage, stageLabel(c.stage)));
    tr.appendChild(stage);
  }

  function row(c) {
    var tr = el("tr");
    tr.setAttribute("data-client", c.id);
    var pick = el("td");
    var box = el("input");
    box.type = "checkbox";
    box.value = c.id;
    box.checked = !!state.selected[c.id];
    box.setAttribute("aria-label", "选择 " + c.name);
    box.addEventListener("change", function () {
      if (box.checked) { state.selected[c.id] = true; } else { delete state.selected[c.id]; }
      showCounts();
    });
    pick.appendChild(box);
    tr.appendChild(pick);
    clientCells(tr, c);
    tr.appendChild(el("td", null, c.tier_label));
    tr.appendChild(el("td", null, (c.segments || []).join("、")));
    tr.appendChild(el("td", null, c.agent ? c.agent_name + "（" + c.agent + "）" : "未分配"));
    tr.appendChild(el("td", null, c.last_call_at ? Dom.when(c.last_call_at) : "从未拨打"));
    return tr;
  }

  /* One page of the clients the filter names; a new filter starts again with nothing ticked. */
  function loadClients(offset, fresh) {
    var params = filterParams();
    var query = params.toString();
    if (fresh || query !== state.query) { state.selected = {}; }
    state.query = query;
    params.set("offset", offset);
    params.set("limit", PAGE);
    var mine = ++request;
    status.textContent = "加载中…";
    return Dom.getPage("/api/book/clients?" + params.toString()).then(function (page) {
      if (mine !== request) { return; }
      Dom.showError(errorBox, null);
      state.offset = offset;
      state.total = page.total;
      state.shown = page.items;
      body.textContent = "";
      page.items.forEach(function (c) { body.appendChild(row(c)); });
      table.hidden = !page.items.length;
      status.textContent = page.total ? "符合条件的客户共 " + page.total + " 位" : "没有符合条件的客户。";
      Dom.byId("assign-prev").hidden = offset <= 0;
      Dom.byId("assign-next").hidden = offset + PAGE >= page.total;
      Dom.byId("assign-page").textContent = page.total > PAGE
        ? "第 " + (Math.floor(offset / PAGE) + 1) + " 页，共 " + Math.ceil(page.total / PAGE) + " 页" : "";
      showCounts();
    }, function (err) {
      if (mine !== request) { return; }
      status.textContent = "";
      Dom.showError(errorBox, err);
    });
  }

  function followups(c) {
    var cell = el("td");
    (c.followups || []).forEach(function (f) {
      var line = el("div", f.agent_active ? null : "pool-followup-orphan");
      line.appendChild(el("span", "badge" + (f.agent_active ? "" : " danger"), f.label));
      line.appendChild(document.createTextNode(" " + Dom.when(f.due_at) + " " + f.reason));
      cell.appendChild(line);
    });
    return cell;
  }

  function poolRow(c) {
    var tr = el("tr");
    tr.setAttribute("data-client", c.id);
    clientCells(tr, c);
    tr.appendChild(el("td", null, c.reason));
    tr.appendChild(followups(c));
    return tr;
  }

  function loadPool(offset) {
    var poolBody = Dom.byId("pool-body");
    return Dom.getPage("/api/book/pool?offset=" + offset + "&limit=" + PAGE).then(function (page) {
      Dom.showError(Dom.byId("pool-error"), null);
      if (!offset) { poolBody.textContent = ""; }
      page.items.forEach(function (c) { poolBody.appendChild(poolRow(c)); });
      state.poolOffset = offset + page.items.length;
      Dom.byId("pool-table").hidden = !state.poolOffset;
      Dom.byId("pool-more").hidden = state.poolOffset >= page.total;
      Dom.byId("pool-status").textContent = page.total
        ? "共 " + page.total + " 位客户没有坐席。勾选“未分配”筛选后可以把他们分配出去。" : "所有客户都有坐席。";
    }, function (err) { Dom.showError(Dom.byId("pool-error"), err); });
  }

  function assign() {
    var agents = Array.prototype.map.call(agentsBox.querySelectorAll("input:checked"), function (i) { return i.value; });
    var scope = panel.querySelector("input[name=assign-scope]:checked").value;
    var payload = { agents: agents };
    if (scope === "filter") {
      payload.filter = filterObject();
      payload.expected = state.total;
    } else {
      payload.client_ids = selectedIds();
    }
    submit.disabled = true;
    result.textContent = "";
    Dom.postJSON("/api/book/assign", payload, panel.getAttribute("data-csrf")).then(function (done) {
      Dom.showError(errorBox, null);
      result.textContent = done.message;
      submit.disabled = false;
      return Promise.all([loadChoices(), loadClients(state.offset, true), loadPool(0)]);
    }, function (err) {
      Dom.showError(errorBox, err);
      submit.disabled = false;
    });
  }

  function start() {
    if (state.loaded) { return; }
    state.loaded = true;
    loadClients(0, true);
    loadPool(0);
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); loadClients(0, true); });
  form.addEventListener("reset", function () { setTimeout(function () { loadClients(0, true); }, 0); });
  all.addEventListener("change", function () {
    Array.prototype.forEach.call(body.querySelectorAll("input[type=checkbox]"), function (box) {
      box.checked = all.checked;
      if (all.checked) { state.selected[box.value] = true; } else { delete state.selected[box.value]; }
    });
    showCounts();
  });
  Dom.byId("assign-prev").addEventListener("click", function () { loadClients(Math.max(0, state.offset - PAGE)); });
  Dom.byId("assign-next").addEventListener("click", function () { loadClients(state.offset + PAGE); });
  Dom.byId("pool-more").addEventListener("click", function () { loadPool(state.poolOffset); });
  submit.addEventListener("click", assign);
  panel.addEventListener("tabshown", start);
  loadChoices().catch(function (err) { Dom.showError(errorBox, err); });
})();
