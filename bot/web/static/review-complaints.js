/* The supervisor's complaints (review.html): open ones first, the longest waiting on top, each with
 * a note form (answer, or answer and resolve); resolved ones on request. The server decides who may
 * read and answer (GET/POST /api/complaints); this only draws. */
(function () {
  "use strict";
  var Dom = window.SalesbotDom;
  var el = Dom.el;
  var section = Dom.byId("complaints");
  if (!section) { return; }
  var body = Dom.byId("complaints-body");
  var table = Dom.byId("complaints-table");
  var status = Dom.byId("complaints-status");
  var errorBox = Dom.byId("complaints-error");
  var count = Dom.byId("complaints-open-count");
  var showResolved = Dom.byId("complaints-show-resolved");

  function notes(c) {
    var list = el("ul", "complaint-notes");
    (c.notes || []).forEach(function (n) {
      list.appendChild(el("li", null, Dom.when(n.at) + " " + (n.by_name || n.by) + (n.resolved ? "（解决）" : "") + "：" + n.text));
    });
    return list;
  }

  function answerForm(c) {
    var form = el("form", "complaint-form");
    var id = "complaint-note-" + c.id;
    var label = el("label", "visually-hidden", "处理说明：" + c.client);
    label.htmlFor = id;
    var text = el("textarea");
    text.id = id;
    text.name = "note";
    text.rows = 2;
    text.maxLength = 1000;
    text.required = true;
    text.placeholder = "处理说明：如何核实、处理结果";
    form.appendChild(label);
    form.appendChild(text);
    [["回复", false], ["标记已解决", true]].forEach(function (b) {
      var button = el("button", "btn small" + (b[1] ? " primary" : ""), b[0]);
      button.type = "submit";
      button.setAttribute("data-resolve", b[1] ? "true" : "false");
      form.appendChild(button);
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var resolve = (e.submitter || form.querySelector("[data-resolve=false]")).getAttribute("data-resolve") === "true";
      Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = true; });
      Dom.postJSON("/api/complaints/" + c.id + "/notes", { note: text.value, resolve: resolve },
        section.getAttribute("data-csrf")).then(function () {
        Dom.showError(errorBox, null);
        return load();
      }, function (err) {
        Dom.showError(errorBox, err);
        Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = false; });
      });
    });
    return form;
  }

  function row(c) {
    var tr = el("tr", "complaint-" + c.status);
    tr.setAttribute("data-complaint", c.id);
    tr.appendChild(el("td", null, Dom.when(c.created_at)));
    var client = el("td");
    if (c.conversation_id) {
      var link = el("a", null, c.client);
      link.href = "/review/conversations/" + encodeURIComponent(c.conversation_id);
      client.appendChild(link);
    } else { client.textContent = c.client; }
    tr.appendChild(client);
    tr.appendChild(el("td", null, c.agent_name || c.agent));
    tr.appendChild(el("td", null, c.category_label));
    tr.appendChild(el("td", "complaint-text", c.text));
    var state = el("td");
    state.appendChild(el("span", "badge" + (c.status === "open" ? " danger" : ""), c.status_label));
    if (c.status === "open") {
      state.appendChild(el("div", "muted", c.minutes_to_first_response === null
        ? "已等待" + c.minutes_waiting + "分钟，未回复" : "首次回复用时" + c.minutes_to_first_response + "分钟"));
    } else {
      state.appendChild(el("div", "muted", "解决于" + Dom.when(c.resolved_at)));
    }
    tr.appendChild(state);
    var handling = el("td");
    handling.appendChild(notes(c));
    if (c.status === "open") { handling.appendChild(answerForm(c)); }
    tr.appendChild(handling);
    return tr;
  }

  function load() {
    return Dom.getJSON("/api/complaints").then(function (all) {
      Dom.showError(errorBox, null);
      var open = all.filter(function (c) { return c.status === "open"; });
      var shown = showResolved.checked ? all : open;
      body.textContent = "";
      shown.forEach(function (c) { body.appendChild(row(c)); });
      table.hidden = !shown.length;
      count.hidden = !open.length;
      count.textContent = open.length + "条待处理";
      status.textContent = open.length ? "" : "没有待处理的投诉。";
    }, function (err) {
      status.textContent = "";
      Dom.showError(errorBox, err);
    });
  }

  showResolved.addEventListener("change", load);
  load();
})();
