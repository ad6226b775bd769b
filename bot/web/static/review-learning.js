/* The supervisor's 话术效果 tab (review.html): per client segment, how each opening style did in the
 * team's recent reached calls (rate of 有意向或成交 with its 90% interval), the style the assistant now
 * prefers and which it preferred week by week, and the controls: pin a style, exclude styles, learning
 * on or off, per segment and for the whole team. The server decides who may (GET /api/learning/openings,
 * POST /api/learning/controls) and keeps every change in the change log. Every text comes from
 * messages.yml learning_texts (page_*), served with the labels as `learning_page`. */
(function () {
  "use strict";
  var Dom = window.SalesbotDom;
  var el = Dom.el;
  var panel = Dom.byId("panel-learning");
  if (!panel) { return; }
  var T = Dom.labels().learning_page || {};
  var intro = Dom.byId("learning-intro");
  var team = Dom.byId("learning-team");
  var segmentsBox = Dom.byId("learning-segments");
  var status = Dom.byId("learning-status");
  var errorBox = Dom.byId("learning-error");
  var request = 0;
  var ALL_SEGMENTS = "*";  // bot.models.ALL_SEGMENTS: the team-wide control

  /* A messages.yml text with its {placeholders} filled (str.format's syntax, without format specs). */
  function fill(text, values) {
    return String(text || "").replace(/\{(\w+)\}/g, function (whole, key) {
      return values && Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

  function percent(value) { return Math.round(value * 100) + "%"; }

  function changedText(control) {
    return control.changed_at ? fill(T.page_changed, { who: control.changed_by || "—", at: Dom.when(control.changed_at) })
      : T.page_never_changed;
  }

  /* A switch (学习 开/关): a checkbox with role=switch, its state spelled out beside it. */
  function toggle(label, on, onChange) {
    var box = el("label", "learning-switch");
    var input = el("input");
    input.type = "checkbox";
    input.setAttribute("role", "switch");
    input.checked = on;
    input.addEventListener("change", function () { onChange(input.checked); });
    box.appendChild(input);
    box.appendChild(el("span", null, label));
    box.appendChild(el("span", "learning-state " + (on ? "on" : "off"), on ? T.page_on : T.page_off));
    return box;
  }

  /* Sends one segment's (or the team's) whole control; the answer is the page's fresh data. */
  function save(segment, own, change) {
    var body = { segment: segment, pinned: own.pinned, excluded: own.excluded.slice(), learning: own.learning };
    Object.keys(change).forEach(function (key) { body[key] = change[key]; });
    var mine = ++request;
    return Dom.postJSON("/api/learning/controls", body, panel.getAttribute("data-csrf")).then(function (data) {
      if (mine !== request) { return; }
      Dom.showError(errorBox, null);
      draw(data);
      status.textContent = T.page_saved;
    }, function (err) {
      Dom.showError(errorBox, err);
      return load(true);  // the controls show what is in force again, not the refused change
    });
  }

  function styleRow(s, settings, segment, own) {
    var tr = el("tr", s.excluded ? "learning-excluded" : null);
    tr.setAttribute("data-style", s.style);
    var name = el("td", "learning-style");
    name.appendChild(el("span", "strong", s.name));
    if (segment.preferred === s.style) { name.appendChild(el("span", "badge learning-preferred", T.page_preferred)); }
    if (s.pinned) { name.appendChild(el("span", "badge learning-pinned", T.page_pinned)); }
    if (s.excluded) { name.appendChild(el("span", "badge learning-excluded-badge", T.page_excluded)); }
    tr.appendChild(name);
    tr.appendChild(el("td", "num", s.recent_calls));
    if (s.rate === null) {
      var few = el("td", "muted learning-few", fill(T.page_too_few, { min_calls: settings.min_calls }));
      few.colSpan = 2;
      tr.appendChild(few);
    } else {
      tr.appendChild(el("td", "num learning-rate", percent(s.rate)));
      tr.appendChild(el("td", "num learning-interval", percent(s.interval[0]) + "–" + percent(s.interval[1])));
    }
    var cell = el("td");
    var box = el("input");
    box.type = "checkbox";
    box.checked = own.excluded.indexOf(s.style) >= 0;
    box.disabled = own.pinned === s.style;  // a pinned style cannot be excluded too
    box.setAttribute("aria-label", fill(T.page_exclude_style, { name: s.name }));
    box.setAttribute("data-exclude", s.style);
    box.addEventListener("change", function () {
      var excluded = own.excluded.filter(function (x) { return x !== s.style; });
      if (box.checked) { excluded.push(s.style); }
      save(segment.segment, own, { excluded: excluded });
    });
    cell.appendChild(box);
    tr.appendChild(cell);
    return tr;
  }

  /* Which style was preferred week by week, consecutive weeks with the same style as one entry. */
  function trend(entries) {
    var box = el("div", "learning-trend");
    box.appendChild(el("span", "muted", fill(T.page_trend, { weeks: Math.max(entries.length - 1, 0) })));
    var list = el("ol");
    entries.forEach(function (week, i) {
      if (i > 0 && entries[i - 1].style === week.style) { return; }
      var item = el("li", null, fill(T.page_trend_since, { date: week.at }) + " " + week.name);
      item.setAttribute("data-style", week.style);
      list.appendChild(item);
    });
    box.appendChild(list);
    return box;
  }

  function segmentCard(segment, data) {
    var own = segment.control.own;
    var card = el("section", "learning-segment");
    card.setAttribute("data-segment", segment.segment);
    var head = el("h3", null, segment.label + " ");
    head.appendChild(el("span", "muted", segment.calls ? fill(T.page_segment_calls, { calls: segment.calls })
      : T.page_no_calls));
    card.appendChild(head);
    card.appendChild(el("p", "learning-now", fill(T.page_now_preferred, { name: segment.preferred_name })));
    if (segment.reason) { card.appendChild(el("p", "learning-reason", segment.reason)); }
    var table = el("table", "data learning-table");
    var headRow = el("tr");
    [[T.page_col_style], [fill(T.page_col_calls, { days: data.settings.half_life_days }), "num"],
     [T.page_col_rate, "num"], [T.page_col_interval, "num"], [T.page_col_exclude]].forEach(function (h) {
      var th = el("th", h[1] || null, h[0]);
      th.scope = "col";
      headRow.appendChild(th);
    });
    var thead = el("thead");
    thead.appendChild(headRow);
    table.appendChild(thead);
    var tbody = el("tbody");
    segment.styles.forEach(function (s) { tbody.appendChild(styleRow(s, data.settings, segment, own)); });
    table.appendChild(tbody);
    // A segment without reached calls has nothing to compare yet: its table starts folded.
    var wrap = el("details", "data-table learning-details");
    wrap.open = segment.calls > 0;
    wrap.appendChild(el("summary", null, T.page_details));
    var scroll = el("div", "table-wrap");
    scroll.appendChild(table);
    wrap.appendChild(scroll);
    card.appendChild(wrap);

    var controls = el("div", "learning-controls");
    var pin = el("label", null, T.page_pin + " ");
    var select = el("select", "learning-pin");
    select.setAttribute("data-segment", segment.segment);
    var none = el("option", null, T.page_pin_none);
    none.value = "";
    select.appendChild(none);
    segment.styles.forEach(function (s) {
      var option = el("option", null, s.name);
      option.value = s.style;
      option.disabled = own.excluded.indexOf(s.style) >= 0;
      select.appendChild(option);
    });
    select.value = own.pinned || "";
    select.addEventListener("change", function () { save(segment.segment, own, { pinned: select.value || null }); });
    pin.appendChild(select);
    controls.appendChild(pin);
    controls.appendChild(toggle(T.page_learning, own.learning, function (on) {
      save(segment.segment, own, { learning: on });
    }));
    card.appendChild(controls);
    card.appendChild(trend(segment.trend));
    card.appendChild(el("p", "muted learning-changed", changedText(segment.control)));
    return card;
  }

  function drawTeam(data) {
    var own = data.team.own;
    team.textContent = "";
    team.appendChild(toggle(T.page_team, data.team.learning, function (on) {
      save(ALL_SEGMENTS, own, { learning: on });
    }));
    team.appendChild(el("span", "muted learning-changed", changedText(data.team)));
    if (!data.team.learning) { team.appendChild(el("p", "learning-team-off", T.page_team_off)); }
  }

  function draw(data) {
    intro.textContent = fill(T.page_intro, { days: data.settings.half_life_days, min_calls: data.settings.min_calls,
                                             explore: percent(data.settings.explore_share) });
    drawTeam(data);
    segmentsBox.textContent = "";
    data.segments.forEach(function (segment) { segmentsBox.appendChild(segmentCard(segment, data)); });
  }

  function load(keepStatus) {
    var mine = ++request;
    if (!keepStatus) { status.textContent = T.page_loading; }
    return Dom.getJSON("/api/learning/openings").then(function (data) {
      if (mine !== request) { return; }
      Dom.showError(errorBox, null);
      draw(data);
      if (!keepStatus) { status.textContent = ""; }
    }, function (err) {
      if (mine !== request) { return; }
      status.textContent = "";
      Dom.showError(errorBox, err);
    });
  }

  panel.addEventListener("tabshown", function () { load(false); });
}());
