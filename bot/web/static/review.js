/* Supervisor review: conversation list with filters, CSV export, dashboard charts in inline SVG.
 *
 * All data is written with textContent / setAttribute (never innerHTML), so names, notes
 * and message text from the database cannot become markup.
 */
(function () {
  "use strict";
  var byId = window.SalesbotDom.byId;
  var el = window.SalesbotDom.el;
  var getJSON = window.SalesbotDom.getJSON;
  var when = window.SalesbotDom.when;
  var Charts = window.SalesbotCharts;
  var svg = Charts.svg;
  var FILTERS = ["client", "agent", "outcome", "from", "to", "q"];
  // Disposition, stage and intent labels come from the server (bot/playbook/labels.yml).
  var LABELS = window.SalesbotDom.labels();
  var DISPOSITION_ORDER = LABELS.disposition_order;
  var meta = {
    dispositions: LABELS.dispositions,
    intents: LABELS.intents,
    products: {},
    openings: {},
    agents: []
  };
  var lastDashboard = null;
  var lastCalls = null;
  var callsRequest = 0;
  var dashboardLoaded = false;
  var metaReady = null;


  function showError(id, err) { window.SalesbotDom.showError(byId(id), err); }

  function intentTitle(name) { return meta.intents[name] || name; }
  function outcomeLabel(code) { return meta.dispositions[code] || code || LABELS.unlogged; }

  /* ---------- tabs ---------- */

  var tabs = Array.prototype.slice.call(document.querySelectorAll("[role=tab]"));

  function selectTab(name, focus) {
    tabs.forEach(function (tab) {
      var on = tab.getAttribute("data-tab") === name;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      byId(tab.getAttribute("aria-controls")).hidden = !on;
      if (on && focus) { tab.focus(); }
    });
    if (name === "dashboard") { loadDashboard(); }
    if (name === "audit") { loadAudit(); }
    // Panels drawn by other scripts (review-rehearsals.js) listen for this.
    byId("panel-" + name).dispatchEvent(new CustomEvent("tabshown"));
    if (location.hash !== "#" + name) {
      history.replaceState(null, "", location.pathname + location.search + "#" + name);
    }
  }

  tabs.forEach(function (tab, i) {
    tab.addEventListener("click", function () { selectTab(tab.getAttribute("data-tab")); });
    tab.addEventListener("keydown", function (e) {
      var next = null;
      if (e.key === "ArrowRight") { next = tabs[(i + 1) % tabs.length]; }
      if (e.key === "ArrowLeft") { next = tabs[(i - 1 + tabs.length) % tabs.length]; }
      if (e.key === "Home") { next = tabs[0]; }
      if (e.key === "End") { next = tabs[tabs.length - 1]; }
      if (next) { e.preventDefault(); selectTab(next.getAttribute("data-tab"), true); }
    });
  });

  /* ---------- filters and the conversation list ---------- */

  var form = byId("filters");

  function currentQuery() {
    var params = new URLSearchParams();
    FILTERS.forEach(function (name) {
      var value = (form.elements[name].value || "").trim();
      if (value) { params.set(name, value); }
    });
    return params;
  }

  function fillForm(params) {
    FILTERS.forEach(function (name) {
      var value = params.get(name) || "";
      var field = form.elements[name];
      if (field.tagName === "SELECT" && value && !field.querySelector("option[value='" + CSS.escape(value) + "']")) {
        field.appendChild(el("option", null, value)).value = value;
      }
      field.value = value;
    });
  }

  function renderCalls(calls) {
    lastCalls = calls;
    var tbody = byId("calls-body");
    tbody.textContent = "";
    if (!calls.length) {
      var tr = el("tr");
      var td = el("td", "empty", "没有符合条件的通话。");
      td.colSpan = 7;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    calls.forEach(function (c) {
      var tr = el("tr", c.logged === false ? "unlogged" : null);
      tr.appendChild(el("td", "nowrap", when(c.started_at)));
      var agent = el("td", null, c.agent_name || c.agent || "—");
      if (c.agent && c.agent_name) { agent.title = c.agent; }
      tr.appendChild(agent);
      tr.appendChild(el("td", "strong", c.client || "—"));
      var outcome = el("td");
      outcome.appendChild(el("span", "outcome-badge " + (c.outcome || "unlogged"), c.outcome_label || outcomeLabel(c.outcome)));
      tr.appendChild(outcome);
      var objections = el("td");
      var tags = el("div", "tags");
      (c.objections || []).forEach(function (o) {
        var tag = el("span", "tag", intentTitle(o));
        tag.title = o;
        tags.appendChild(tag);
      });
      if (!(c.objections || []).length) { tags.appendChild(el("span", "muted", "无")); }
      objections.appendChild(tags);
      tr.appendChild(objections);
      tr.appendChild(el("td", null, (c.products || []).map(function (code) {
        return meta.products[code] || code;
      }).join("、") || "—"));
      var link = el("td");
      if (c.conversation_id) {
        var a = el("a", null, "查看记录");
        a.href = "/review/conversations/" + encodeURIComponent(c.conversation_id);
        a.setAttribute("aria-label", "查看 " + (c.client || "") + " " + when(c.started_at) + " 的通话记录");
        link.appendChild(a);
      } else {
        link.textContent = "—";
      }
      tr.appendChild(link);
      tbody.appendChild(tr);
    });
  }

  // The list arrives a page at a time (X-Total-Count tells how many there are); 加载更多 appends.
  var PAGE_SIZE = 200;

  function loadCalls(more) {
    var params = currentQuery();
    var qs = params.toString();
    history.replaceState(null, "", location.pathname + (qs ? "?" + qs : "") + location.hash);
    // The export holds logged calls only (the contract's /api/calls), every one of them.
    byId("csv-link").href = "/api/calls.csv" + (qs ? "?" + qs : "");
    var status = byId("calls-status");
    var moreButton = byId("calls-more");
    var shown = more === true && lastCalls ? lastCalls : [];
    var seq = ++callsRequest;
    status.textContent = "加载中…";
    moreButton.disabled = true;
    params.set("offset", String(shown.length));
    params.set("limit", String(PAGE_SIZE));
    // Every conversation about a client: logged calls and lookups without a logged outcome.
    return window.SalesbotDom.getPage("/api/conversations?" + params.toString()).then(function (page) {
      if (seq !== callsRequest) { return; }  // a newer search is on its way
      showError("calls-error", null);
      var calls = shown.concat(page.items);
      renderCalls(calls);
      var unlogged = calls.filter(function (c) { return c.logged === false; }).length;
      var complete = calls.length >= page.total;
      status.textContent = "共 " + page.total + " 条通话" + (qs ? "（已筛选）" : "") +
        (complete ? (unlogged ? "，其中 " + unlogged + " 条" + LABELS.unlogged : "")
                  : "，已显示最新 " + calls.length + " 条");
      moreButton.hidden = complete;
      moreButton.disabled = false;
    }).catch(function (err) {
      if (seq !== callsRequest) { return; }
      showError("calls-error", err);
      status.textContent = "";
      moreButton.hidden = true;
      byId("calls-body").textContent = "";
    });
  }

  function reloadCalls() { loadCalls(false); }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    reloadCalls();
  });
  form.addEventListener("reset", function () {
    setTimeout(reloadCalls, 0);
  });
  form.elements.agent.addEventListener("change", reloadCalls);
  form.elements.outcome.addEventListener("change", reloadCalls);
  byId("calls-more").addEventListener("click", function () { loadCalls(true); });

  function loadMeta() {
    return getJSON("/review/meta.json").then(function (data) {
      meta.products = data.products || {};
      meta.openings = data.openings || {};
      var select = form.elements.agent;
      var chosen = select.value;
      (data.agents || []).forEach(function (a) {
        var label = a.name + "（" + a.login + "）";
        var existing = select.querySelector("option[value='" + CSS.escape(a.login) + "']");
        if (existing) { existing.textContent = label; return; }
        var option = el("option", null, label);
        option.value = a.login;
        select.appendChild(option);
      });
      select.value = chosen;
      if (lastCalls) { renderCalls(lastCalls); }  // now with product names and objection labels
    }).catch(function () { /* the filters still work with codes */ });
  }

  /* ---------- charts ---------- */

  /* Disposition counts per agent: one group per agent, one bar per disposition. */
  function groupedBars(container, dispositions) {
    var agents = Object.keys(dispositions || {});
    var series = DISPOSITION_ORDER.filter(function (code) {
      return agents.some(function (a) { return (dispositions[a][code] || 0) > 0; });
    }).map(function (code) { return { code: code, label: outcomeLabel(code) }; });
    if (!agents.length || !series.length) { Charts.emptyChart(container, "还没有记录任何通话结果。"); return; }
    var max = 0;
    agents.forEach(function (a) { series.forEach(function (s) { max = Math.max(max, dispositions[a][s.code] || 0); }); });
    var top = Charts.niceMax(max);
    var W = Charts.chartWidth(container), H = 280, L = 40, R = 12, T = 18, B = 40;
    var plotW = W - L - R, plotH = H - T - B;
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": "svg-disp-title" });
    root.appendChild(svg("title", { id: "svg-disp-title" }, "各坐席通话结果：" + agents.map(function (a) {
      return a + " " + series.map(function (s) { return s.label + (dispositions[a][s.code] || 0); }).join("、");
    }).join("；")));
    for (var t = 0; t <= 5; t++) {
      var v = top * t / 5;
      var y = T + plotH - plotH * t / 5;
      root.appendChild(svg("line", { x1: L, x2: W - R, y1: y, y2: y, "class": t ? "grid" : "axis" }));
      root.appendChild(svg("text", { x: L - 8, y: y + 4, "text-anchor": "end" }, Number.isInteger(v) ? v : v.toFixed(1)));
    }
    var groupW = Math.min(plotW / agents.length, 260);
    var offset = (plotW - groupW * agents.length) / 2;
    var barW = Math.min(30, (groupW * 0.8) / series.length);
    agents.forEach(function (agent, gi) {
      var start = L + offset + gi * groupW + (groupW - barW * series.length) / 2;
      var g = svg("g", { "class": "group" });
      series.forEach(function (s, si) {
        var value = dispositions[agent][s.code] || 0;
        var h = plotH * value / top;
        var x = start + si * barW;
        var bar = svg("rect", { x: x + 1, y: T + plotH - h, width: Math.max(1, barW - 2), height: h, "class": "bar s-" + s.code, rx: 2 });
        bar.appendChild(svg("title", {}, agent + " · " + s.label + "：" + value));
        g.appendChild(bar);
        if (value > 0) {
          g.appendChild(svg("text", { x: x + barW / 2, y: T + plotH - h - 4, "text-anchor": "middle", "class": "value" }, value));
        }
      });
      g.appendChild(svg("text", { x: L + offset + gi * groupW + groupW / 2, y: H - B + 20, "text-anchor": "middle", "class": "bar-label" }, agent));
      root.appendChild(g);
    });
    container.textContent = "";
    container.appendChild(root);
    container.appendChild(Charts.legend(series));
    container.appendChild(Charts.dataTable("各坐席通话结果", ["坐席"].concat(series.map(function (s) { return s.label; })),
      agents.map(function (a) { return [a].concat(series.map(function (s) { return dispositions[a][s.code] || 0; })); })));
  }

  /* Horizontal bars; ``centered`` draws them around the middle, like a funnel. */
  function horizontalBars(container, items, opts) {
    if (!items.length || !items.some(function (i) { return i.value > 0; })) {
      Charts.emptyChart(container, opts.empty);
      return;
    }
    var max = Math.max.apply(null, items.map(function (i) { return i.value; }));
    var rowH = 34, W = Charts.chartWidth(container), labelW = 120, valueW = 40, T = 6;
    var H = T * 2 + rowH * items.length;
    var barArea = W - labelW - valueW;
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": opts.id + "-title" });
    root.appendChild(svg("title", { id: opts.id + "-title" }, opts.title + "：" + items.map(function (i) {
      return i.label + " " + i.value;
    }).join("，")));
    items.forEach(function (item, i) {
      var y = T + i * rowH;
      var w = max ? Math.max(item.value > 0 ? 3 : 0, barArea * item.value / max) : 0;
      var x = opts.centered ? labelW + (barArea - w) / 2 : labelW;
      root.appendChild(svg("text", { x: labelW - 10, y: y + rowH / 2 + 4, "text-anchor": "end", "class": "bar-label" }, item.label));
      if (opts.centered) {
        root.appendChild(svg("rect", { x: labelW, y: y + 5, width: barArea, height: rowH - 10, fill: "#f1f4f9", rx: 4 }));
      }
      var bar = svg("rect", { x: x, y: y + 5, width: w, height: rowH - 10, "class": "bar " + opts.cls, rx: 4 });
      bar.appendChild(svg("title", {}, item.label + "：" + item.value));
      root.appendChild(bar);
      root.appendChild(svg("text", { x: W - valueW + 8, y: y + rowH / 2 + 4, "class": "value" }, item.value));
    });
    container.textContent = "";
    container.appendChild(root);
    container.appendChild(Charts.dataTable(opts.title, opts.head, items.map(function (i) { return [i.label, i.value]; })));
  }

  function drawTotals(data) {
    var box = byId("totals");
    var calls = 0, deals = 0;
    Object.keys(data.dispositions || {}).forEach(function (agent) {
      var row = data.dispositions[agent];
      Object.keys(row).forEach(function (code) { calls += row[code] || 0; });
      deals += row.deal || 0;
    });
    var objections = 0;
    Object.keys(data.objections || {}).forEach(function (k) { objections += data.objections[k] || 0; });
    var unlogged = 0;
    Object.keys(data.unlogged || {}).forEach(function (agent) { unlogged += data.unlogged[agent] || 0; });
    var tiles = [
      ["已记录通话", calls],
      [LABELS.unlogged, unlogged],
      [outcomeLabel("deal"), deals],
      [outcomeLabel("deal") + "率", calls ? Math.round(deals * 1000 / calls) / 10 + "%" : "—"],
      ["客户异议", objections]
    ];
    box.textContent = "";
    tiles.forEach(function (t) {
      var tile = el("div", "tile");
      tile.appendChild(el("dt", null, t[0]));
      tile.appendChild(el("dd", null, t[1]));
      box.appendChild(tile);
    });
  }

  /* Conversion by opening style or client segment: a table (exact numbers matter more than a picture). */
  function conversionTable(container, rows, firstHead, empty) {
    container.textContent = "";
    if (!rows.length) { Charts.emptyChart(container, empty); return; }
    var table = el("table", "data conversion-table");
    var thead = el("thead");
    var tr = el("tr");
    [firstHead, "通话", "接通", outcomeLabel("deal"), outcomeLabel("interested"), outcomeLabel("deal") + "率"].forEach(function (h) {
      var th = el("th", null, h);
      th.scope = "col";
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    table.appendChild(thead);
    var tbody = el("tbody");
    rows.forEach(function (row) {
      var r = el("tr");
      var th = el("th", null, row.label || row.key);
      th.scope = "row";
      th.title = row.key;
      r.appendChild(th);
      [row.calls, row.reached, row.deals, row.interested].forEach(function (n) { r.appendChild(el("td", "num", n)); });
      var rate = el("td", "num rate");
      if (row.rate === null || row.rate === undefined) {
        rate.textContent = "—";
      } else {
        var pct = Math.round(row.rate * 1000) / 10;
        var bar = el("span", "rate-bar s-conversion");
        bar.style.width = Math.max(2, pct) + "%";
        rate.appendChild(bar);
        rate.appendChild(el("span", "rate-text", pct + "%"));
      }
      r.appendChild(rate);
      tbody.appendChild(r);
    });
    table.appendChild(tbody);
    container.appendChild(table);
    container.appendChild(el("p", "muted small", outcomeLabel("deal") + "率 = " + outcomeLabel("deal") + " ÷ 接通的通话。"));
  }

  function drawDashboard(data) {
    drawTotals(data);
    var conversion = data.conversion || {};
    conversionTable(byId("conversion-opening"), conversion.by_opening || [], "开场方式", "还没有记录开场方式的通话。");
    conversionTable(byId("conversion-segment"), conversion.by_segment || [], "客户类型", "还没有记录结果的通话。");
    groupedBars(byId("chart-dispositions"), data.dispositions || {});
    horizontalBars(byId("chart-funnel"), (data.funnel || []).map(function (f) {
      return { label: f.label || f.stage, value: f.count || 0 };
    }), { id: "svg-funnel", title: "客户漏斗", head: ["阶段", "客户数"], cls: "s-funnel", centered: true, empty: "还没有客户。" });
    var unlogged = data.unlogged || {};
    horizontalBars(byId("chart-unlogged"), Object.keys(unlogged).map(function (agent) {
      return { label: agent, value: unlogged[agent] };
    }), { id: "svg-unlogged", title: "各坐席" + LABELS.unlogged + "的会话", head: ["坐席", "会话数"], cls: "s-unlogged",
          empty: "每次查过客户的会话都记录了结果。" });
    var objections = data.objections || {};
    horizontalBars(byId("chart-objections"), Object.keys(objections).map(function (k) {
      return { label: intentTitle(k), value: objections[k] };
    }).sort(function (a, b) { return b.value - a.value; }),
    { id: "svg-objections", title: "客户异议出现次数", head: ["异议", "次数"], cls: "s-objection", empty: "还没有记录到客户异议。" });
  }

  Charts.redrawOnResize(function () {
    if (lastDashboard && !byId("panel-dashboard").hidden) { drawDashboard(lastDashboard); }
  });

  /* ---------- who revealed which phone number ---------- */

  // A supervisor pressed "show number", or found the client by typing the whole number (bot/access.py).
  var AUDIT_KINDS = { reveal: "显示号码", lookup: "按完整号码查询" };

  function loadAudit() {
    byId("audit-status").textContent = "加载中…";
    getJSON("/api/audit/phone-reveals").then(function (rows) {
      showError("audit-error", null);
      var body = byId("audit-body");
      body.textContent = "";
      rows.forEach(function (r) {
        var tr = el("tr");
        tr.appendChild(el("td", null, when(r.revealed_at)));
        tr.appendChild(el("td", null, r.user_name + "（" + r.user + "）"));
        tr.appendChild(el("td", null, r.client));
        tr.appendChild(el("td", null, AUDIT_KINDS[r.kind] || r.kind));
        body.appendChild(tr);
      });
      byId("audit-status").textContent = rows.length ? "共 " + rows.length + " 条" : "还没有人查看过完整号码。";
    }, function (err) { byId("audit-status").textContent = ""; showError("audit-error", err); });
  }

  function loadDashboard() {
    if (dashboardLoaded) { return; }  // a request is already on its way
    dashboardLoaded = true;
    metaReady.then(function () { return getJSON("/api/dashboard"); }).then(function (data) {
      showError("dashboard-error", null);
      lastDashboard = data;
      dashboardLoaded = false;
      drawDashboard(data);
    }).catch(function (err) {
      dashboardLoaded = false;
      showError("dashboard-error", err);
    });
  }

  /* ---------- start ---------- */

  DISPOSITION_ORDER.concat(["unlogged"]).forEach(function (code) {
    var option = el("option", null, code === "unlogged" ? LABELS.unlogged : outcomeLabel(code));
    option.value = code;
    form.elements.outcome.appendChild(option);
  });

  // Filters from the address (a shared or reloaded link); without any, keep what the user may
  // already have typed while the scripts were loading.
  if (location.search) { fillForm(new URLSearchParams(location.search)); }
  loadCalls();
  metaReady = loadMeta();
  var hashTab = location.hash.slice(1);
  selectTab(tabs.some(function (tab) { return tab.getAttribute("data-tab") === hashTab; }) ? hashTab : "calls");
})();
