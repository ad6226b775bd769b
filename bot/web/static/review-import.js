/* The supervisor's 导入 tab (review.html): choose a client sheet or the bank's opt-out register, see
 * the server's preview (counts, ignored columns, every refused row with its problems), correct the
 * refused rows in place and check again, then write: all rows, or only the valid ones. The server
 * reads, checks and writes (POST /api/imports/clients|dnc); this only draws and sends the file again
 * with the corrections ({row_number: {field: value}}). Past imports: GET /api/imports. */
(function () {
  "use strict";
  var Dom = window.SalesbotDom;
  var el = Dom.el;
  var panel = Dom.byId("panel-import");
  if (!panel) { return; }
  var MAX_BYTES = 20 * 1024 * 1024;
  var KIND_LABELS = { clients: "客户表", do_not_call: "拒绝营销名单" };
  var form = Dom.byId("import-form");
  var errorBox = Dom.byId("import-error");
  var progress = Dom.byId("import-progress");
  var bar = Dom.byId("import-progress-bar");
  var progressText = Dom.byId("import-progress-text");
  var preview = Dom.byId("import-preview");
  var refusedTable = Dom.byId("import-refused");
  var refusedBody = Dom.byId("import-refused-body");
  var buttons = { recheck: Dom.byId("import-recheck"), write: Dom.byId("import-write"),
                  writeValid: Dom.byId("import-write-valid") };
  var state = { file: null, kind: "clients", fixes: {}, busy: false };

  function fieldLabel(key) {
    var labels = Dom.labels().change_fields || {};
    return labels[key] || key;
  }

  function setBusy(busy, text) {
    state.busy = busy;
    progress.hidden = !busy && !text;
    progressText.textContent = text || "";
    Array.prototype.forEach.call(panel.querySelectorAll("button"), function (b) { b.disabled = busy; });
  }

  /* The file with the corrections, by XMLHttpRequest: fetch() cannot report the upload's progress. */
  function send(options) {
    if (!state.file || state.busy) { return; }
    if (state.file.size > MAX_BYTES) {
      Dom.showError(errorBox, new Error("文件太大（最多 20 MB），没有导入。请分成几个文件导入。"));
      return;
    }
    var data = new FormData();
    data.append("file", state.file, state.file.name);
    data.append("dry_run", options.write ? "0" : "1");
    data.append("write_valid", options.writeValid ? "1" : "0");
    data.append("fixes", JSON.stringify(state.fixes));
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/imports/" + (state.kind === "do_not_call" ? "dnc" : "clients"));
    xhr.setRequestHeader("X-CSRF-Token", panel.getAttribute("data-csrf") || "");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round(100 * e.loaded / e.total);
        progressText.textContent = "上传中 " + bar.value + "%";
      }
    };
    xhr.upload.onload = function () {
      // How far the server is cannot be measured from here: an indeterminate bar while it works.
      bar.removeAttribute("value");
      progressText.textContent = options.write ? "正在检查并写入CRM…" : "正在逐行检查…";
    };
    xhr.onload = function () {
      var reply = null;
      try { reply = JSON.parse(xhr.responseText); } catch (e) { reply = null; }
      setBusy(false);
      progress.hidden = true;
      if (xhr.status === 401) { Dom.showError(errorBox, new Error("登录已过期，请刷新页面重新登录。")); return; }
      if (xhr.status !== 200 || !reply) {
        Dom.showError(errorBox, new Error((reply && reply.error) || ("服务器返回错误 " + xhr.status)));
        loadImports();
        return;
      }
      Dom.showError(errorBox, null);
      draw(reply);
      loadImports();
    };
    xhr.onerror = function () {
      setBusy(false);
      progress.hidden = true;
      Dom.showError(errorBox, new Error("网络错误，无法连接到服务器。"));
    };
    bar.value = 0;
    setBusy(true, "上传中 0%");
    xhr.send(data);
  }

  function fixInput(rowNumber, problem, current) {
    var wrap = el("label", "import-fix");
    wrap.appendChild(el("span", null, problem.column));
    var input = el("input");
    input.type = "text";
    input.name = "fix-" + rowNumber + "-" + problem.field;
    input.setAttribute("data-row", rowNumber);
    input.setAttribute("data-field", problem.field);
    input.placeholder = current || "";
    var fixed = (state.fixes[rowNumber] || {})[problem.field];
    if (fixed !== undefined) { input.value = fixed; }
    input.addEventListener("input", function () {
      var row = state.fixes[rowNumber] = state.fixes[rowNumber] || {};
      row[problem.field] = input.value;
    });
    wrap.appendChild(input);
    return wrap;
  }

  function refusedRow(entry) {
    var tr = el("tr");
    tr.setAttribute("data-row", entry.row);
    tr.appendChild(el("td", null, entry.row));
    tr.appendChild(el("td", null, entry.name || "—"));
    tr.appendChild(el("td", null, entry.phone || "—"));
    var list = el("ul", "import-problems");
    entry.problems.forEach(function (p) { list.appendChild(el("li", null, p.text)); });
    var problemsCell = el("td");
    problemsCell.appendChild(list);
    tr.appendChild(problemsCell);
    var fixes = el("td", "import-fixes");
    var seen = {};
    entry.problems.forEach(function (p) {
      if (seen[p.field]) { return; }
      seen[p.field] = true;
      fixes.appendChild(fixInput(entry.row, p, (entry.values || {})[p.field]));
    });
    tr.appendChild(fixes);
    return tr;
  }

  function drawUpdates(updates) {
    var box = Dom.byId("import-updates");
    var list = Dom.byId("import-updates-list");
    list.textContent = "";
    updates.forEach(function (u) {
      var parts = Object.keys(u.changes).map(function (key) {
        var pair = u.changes[key];
        return fieldLabel(key) + " " + (pair[0] === null ? "空" : pair[0]) + " → " + (pair[1] === null ? "空" : pair[1]);
      });
      list.appendChild(el("li", null, "第" + u.row + "行 " + (u.name || "") + "：" + parts.join("，")));
    });
    box.hidden = !updates.length;
  }

  function draw(reply) {
    var counts = reply.counts;
    preview.hidden = false;
    Dom.byId("import-summary").textContent = reply.summary + " " + reply.message;
    var ignored = Dom.byId("import-ignored");
    ignored.hidden = !reply.ignored_columns.length;
    ignored.textContent = "未识别的列（已忽略）：" + reply.ignored_columns.join("、");
    refusedBody.textContent = "";
    reply.refused.forEach(function (entry) { refusedBody.appendChild(refusedRow(entry)); });
    refusedTable.hidden = refusedTable.parentNode.hidden = !reply.refused.length;  // the wrap draws a frame
    var more = Dom.byId("import-refused-more");
    more.hidden = counts.refused <= reply.refused.length;
    more.textContent = "只列出前 " + reply.refused.length + " 行，共 " + counts.refused + " 行有问题：完整列表见下方导入记录的报告。";
    drawUpdates(reply.updates || []);
    var valid = counts.total - counts.refused;
    // A refused write (the CRM changed since the preview) is a preview again: correct, check, write.
    var previewing = reply.status === "dry_run" || reply.status === "refused";
    buttons.recheck.hidden = !previewing || !counts.refused;
    buttons.write.hidden = !previewing || counts.refused > 0;
    buttons.writeValid.hidden = !previewing || !counts.refused || !valid;
    buttons.writeValid.textContent = "只导入无误的 " + valid + " 行";
    if (reply.status === "written") { state.fixes = {}; }
  }

  function importRow(b) {
    var tr = el("tr");
    tr.appendChild(el("td", null, Dom.when(b.at)));
    tr.appendChild(el("td", null, b.by_name || b.by || "系统"));
    tr.appendChild(el("td", null, KIND_LABELS[b.kind] || b.kind));
    tr.appendChild(el("td", null, b.filename));
    tr.appendChild(el("td", null, b.status_label));
    [b.counts.create, b.counts.update, b.counts.unchanged, b.counts.refused].forEach(function (n) {
      tr.appendChild(el("td", "num", n));
    });
    var report = el("td");
    if (b.report_rows) {
      var link = el("a", null, "下载报告（" + b.report_rows + "行）");
      link.href = "/api/imports/" + b.id + "/report.csv";
      link.setAttribute("download", "");
      report.appendChild(link);
    } else { report.textContent = "—"; }
    tr.appendChild(report);
    return tr;
  }

  function loadImports() {
    var status = Dom.byId("imports-status");
    return Dom.getJSON("/api/imports").then(function (rows) {
      var body = Dom.byId("imports-body");
      body.textContent = "";
      rows.forEach(function (b) { body.appendChild(importRow(b)); });
      var table = Dom.byId("imports-table");
      table.hidden = table.parentNode.hidden = !rows.length;
      status.textContent = rows.length ? "" : "还没有导入过。";
    }, function (err) { status.textContent = ""; Dom.showError(errorBox, err); });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var input = form.querySelector("input[type=file]");
    state.file = input.files && input.files[0];
    state.kind = form.querySelector("select[name=kind]").value === "dnc" ? "do_not_call" : "clients";
    state.fixes = {};
    if (!state.file) { Dom.showError(errorBox, new Error("请选择要导入的文件。")); return; }
    send({ write: false });
  });
  buttons.recheck.addEventListener("click", function () { send({ write: false }); });
  buttons.write.addEventListener("click", function () { send({ write: true }); });
  buttons.writeValid.addEventListener("click", function () { send({ write: true, writeValid: true }); });

  var loaded = false;
  panel.addEventListener("tabshown", function () {
    if (!loaded) { loaded = true; loadImports(); }
  });
})();
