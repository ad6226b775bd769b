/* Inline SVG chart pieces shared by the review dashboard and the rehearsal pages (no chart
 * library). Every chart has a <title> summary and a data table beside it for screen readers.
 */
(function () {
  "use strict";
  var el = window.SalesbotDom.el;
  var SVGNS = "http://www.w3.org/2000/svg";
  var LINE_COLOURS = 8;  // .s-line-0 ... .s-line-7 in app.css

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function niceMax(value) {
    if (value <= 5) { return 5; }
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * power * 5 >= value) { return steps[i] * power * 5; }
    }
    return 10 * power * 5;
  }

  function emptyChart(container, text) {
    container.textContent = "";
    container.appendChild(el("p", "empty", text || "暂无数据"));
  }

  function dataTable(caption, head, rows) {
    var details = el("details", "data-table");
    details.appendChild(el("summary", null, "查看数据表"));
    var table = el("table", "data");
    table.appendChild(el("caption", "visually-hidden", caption));
    var thead = el("thead");
    var tr = el("tr");
    head.forEach(function (h) { var th = el("th", null, h); th.scope = "col"; tr.appendChild(th); });
    thead.appendChild(tr);
    table.appendChild(thead);
    var tbody = el("tbody");
    rows.forEach(function (row) {
      var r = el("tr");
      row.forEach(function (cell, i) { r.appendChild(el(i ? "td" : "th", i ? "num" : null, cell)); });
      tbody.appendChild(r);
    });
    table.appendChild(tbody);
    details.appendChild(table);
    return details;
  }

  /* series: [{code, label}]; the swatch colour comes from the .s-<code> class. */
  function legend(series) {
    var ul = el("ul", "legend");
    series.forEach(function (s) {
      var li = el("li");
      li.appendChild(el("span", "swatch s-" + s.code));
      li.appendChild(el("span", null, s.label));
      ul.appendChild(li);
    });
    return ul;
  }

  /* Charts are drawn at the container's pixel width, so text keeps its real size. */
  function chartWidth(container) {
    return Math.max(300, Math.round(container.clientWidth || 560));
  }

  function dayNumber(day) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(day);
    return m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) / 86400000 : 0;
  }

  /* Scores over time: one line per series, x by calendar day, y from 0 to ``opts.max`` (100).
     series: [{label, points: [{day: "2026-11-23", value: 72.5}]}]. */
  function lineChart(container, series, opts) {
    series = series.filter(function (s) { return s.points && s.points.length; });
    if (!series.length) { emptyChart(container, opts.empty); return; }
    series.forEach(function (s, i) { s.code = "line-" + (i % LINE_COLOURS); });
    var days = {};
    series.forEach(function (s) { s.points.forEach(function (p) { days[p.day] = true; }); });
    days = Object.keys(days).sort();
    var first = dayNumber(days[0]), span = Math.max(1, dayNumber(days[days.length - 1]) - first);
    var top = opts.max || 100;
    var W = chartWidth(container), H = opts.height || 260, L = 40, R = 16, T = 14, B = 34;
    var plotW = W - L - R, plotH = H - T - B;
    function x(day) { return days.length === 1 ? L + plotW / 2 : L + plotW * (dayNumber(day) - first) / span; }
    function y(value) { return T + plotH - plotH * Math.max(0, Math.min(top, value)) / top; }

    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": opts.id + "-title" });
    root.appendChild(svg("title", { id: opts.id + "-title" }, opts.title + "：" + series.map(function (s) {
      return s.label + " " + s.points.map(function (p) { return p.day.slice(5) + " " + p.value; }).join("、");
    }).join("；")));
    for (var t = 0; t <= 5; t++) {
      var gy = T + plotH - plotH * t / 5;
      root.appendChild(svg("line", { x1: L, x2: W - R, y1: gy, y2: gy, "class": t ? "grid" : "axis" }));
      root.appendChild(svg("text", { x: L - 8, y: gy + 4, "text-anchor": "end" }, Math.round(top * t / 5)));
    }
    var step = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor(plotW / 70))));
    days.forEach(function (day, i) {
      if (i % step && i !== days.length - 1) { return; }
      root.appendChild(svg("text", { x: x(day), y: H - B + 20, "text-anchor": "middle", "class": "bar-label" }, day.slice(5)));
    });
    series.forEach(function (s) {
      var g = svg("g", { "class": "series s-" + s.code });
      var path = s.points.map(function (p, i) { return (i ? "L" : "M") + x(p.day).toFixed(1) + " " + y(p.value).toFixed(1); });
      g.appendChild(svg("path", { d: path.join(" "), "class": "line" }));
      s.points.forEach(function (p) {
        var dot = svg("circle", { cx: x(p.day), cy: y(p.value), r: 4, "class": "dot" });
        dot.appendChild(svg("title", {}, s.label + " · " + p.day + "：" + p.value));
        g.appendChild(dot);
      });
      root.appendChild(g);
    });
    container.textContent = "";
    container.appendChild(root);
    if (series.length > 1 || opts.legend) { container.appendChild(legend(series)); }
    container.appendChild(dataTable(opts.title, ["日期"].concat(series.map(function (s) { return s.label; })),
      days.map(function (day) {
        return [day].concat(series.map(function (s) {
          var point = s.points.filter(function (p) { return p.day === day; })[0];
          return point ? point.value : "—";
        }));
      })));
  }

  /* Charts are drawn at the container's width: ``redraw`` again once a resize has settled. */
  function redrawOnResize(redraw) {
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(redraw, 150);
    });
  }

  window.SalesbotCharts = {
    svg: svg, niceMax: niceMax, emptyChart: emptyChart, dataTable: dataTable, legend: legend,
    chartWidth: chartWidth, lineChart: lineChart, redrawOnResize: redrawOnResize
  };
})();
