/* The supervisor's 产品 tab (review.html): the catalogue, and a form to add or edit a product in plain
 * fields. The server checks every text with the compliance module before it saves: a refusal comes
 * back as {"problems": {field: reason}} ("selling_points.2" for the third point) and each reason is
 * shown beside its field. Categories come from the served labels (GET/POST /api/products,
 * POST /api/products/<code>). */
(function () {
  "use strict";
  var Dom = window.SalesbotDom;
  var el = Dom.el;
  var panel = Dom.byId("panel-products");
  if (!panel) { return; }
  var CATEGORIES = Dom.labels().product_categories || {};
  var RISK_LEVELS = ["R1", "R2", "R3", "R4", "R5"];
  var TEXT_FIELDS = ["comparison", "target", "pricing", "eligibility", "signup"];
  var csrf = panel.getAttribute("data-csrf");
  var body = Dom.byId("products-body");
  var table = Dom.byId("products-table");
  var status = Dom.byId("products-status");
  var errorBox = Dom.byId("products-error");
  var form = Dom.byId("product-form");
  var formTitle = Dom.byId("product-form-title");
  var formError = Dom.byId("product-form-error");
  var pointsList = Dom.byId("product-points");
  var editing = null;  // the code of the product in the form; null for a new one

  Object.keys(CATEGORIES).forEach(function (code) {
    var option = el("option", null, CATEGORIES[code]);
    option.value = code;
    form.elements.category.appendChild(option);
  });
  RISK_LEVELS.forEach(function (level) {
    var option = el("option", null, level);
    option.value = level;
    form.elements.risk_level.appendChild(option);
  });

  /* ---------- the selling points: an ordered list of inputs ---------- */

  function pointRow(text) {
    var li = el("li", "point-row");
    var input = el("textarea");
    input.rows = 2;
    input.maxLength = 200;
    input.value = text || "";
    input.setAttribute("aria-label", "卖点");
    li.appendChild(input);
    var tools = el("span", "point-tools");
    [["上移", -1], ["下移", 1]].forEach(function (move) {
      var b = el("button", "btn small", move[0]);
      b.type = "button";
      b.addEventListener("click", function () {
        var sibling = move[1] < 0 ? li.previousElementSibling : li.nextElementSibling;
        if (sibling) { pointsList.insertBefore(li, move[1] < 0 ? sibling : sibling.nextElementSibling); }
        renumber();
      });
      tools.appendChild(b);
    });
    var remove = el("button", "btn small", "删除");
    remove.type = "button";
    remove.addEventListener("click", function () { li.remove(); renumber(); });
    tools.appendChild(remove);
    li.appendChild(tools);
    var error = el("p", "field-error");
    error.hidden = true;
    li.appendChild(error);
    return li;
  }

  function renumber() {
    Array.prototype.forEach.call(pointsList.children, function (li, i) {
      li.querySelector("textarea").setAttribute("aria-label", "卖点 " + (i + 1));
      li.querySelector(".field-error").setAttribute("data-field", "selling_points." + i);
    });
  }

  function setPoints(points) {
    pointsList.textContent = "";
    (points.length ? points : ["", "", ""]).forEach(function (p) { pointsList.appendChild(pointRow(p)); });
    renumber();
  }

  Dom.byId("product-add-point").addEventListener("click", function () {
    pointsList.appendChild(pointRow(""));
    renumber();
  });

  /* ---------- errors beside their fields ---------- */

  function clearErrors() {
    Array.prototype.forEach.call(form.querySelectorAll(".field-error"), function (p) {
      p.textContent = "";
      p.hidden = true;
    });
    Dom.showError(formError, null);
  }

  function showProblems(problems) {
    Object.keys(problems || {}).forEach(function (field) {
      var box = form.querySelector('.field-error[data-field="' + field + '"]') ||
        form.querySelector('.field-error[data-field="' + field.split(".")[0] + '"]');
      if (box) {
        box.textContent = (box.textContent ? box.textContent + "；" : "") + problems[field];
        box.hidden = false;
      }
    });
  }

  /* ---------- the form ---------- */

  function riskForCategory() {
    var wealth = form.elements.category.value === "wealth";
    form.elements.risk_level.disabled = !wealth;
    if (!wealth) { form.elements.risk_level.value = ""; }
  }
  form.elements.category.addEventListener("change", riskForCategory);

  function open(product) {
    editing = product ? product.code : null;
    clearErrors();
    form.reset();
    formTitle.textContent = product ? "修改产品：" + product.name : "新增产品";
    form.elements.code.value = product ? product.code : "";
    form.elements.code.readOnly = !!product;
    form.elements.name.value = product ? product.name : "";
    form.elements.category.value = product ? product.category : "";
    form.elements.risk_level.value = product && product.risk_level ? product.risk_level : "";
    form.elements.min_amount.value = product ? product.min_amount : "0";
    form.elements.aliases.value = product ? product.aliases.join("、") : "";
    TEXT_FIELDS.forEach(function (f) { form.elements[f].value = product && product[f] ? product[f] : ""; });
    form.elements.active.checked = product ? product.active : true;
    setPoints(product ? product.selling_points : []);
    riskForCategory();
    form.hidden = false;
    form.elements[product ? "name" : "code"].focus();
  }

  function values() {
    var data = {
      name: form.elements.name.value, category: form.elements.category.value,
      risk_level: form.elements.risk_level.value || null, min_amount: form.elements.min_amount.value,
      aliases: form.elements.aliases.value, active: form.elements.active.checked,
      selling_points: Array.prototype.map.call(pointsList.querySelectorAll("textarea"), function (t) { return t.value; })
    };
    TEXT_FIELDS.forEach(function (f) { data[f] = form.elements[f].value; });
    if (!editing) { data.code = form.elements.code.value; }
    return data;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    clearErrors();
    var submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    var url = editing ? "/api/products/" + encodeURIComponent(editing) : "/api/products";
    // Not Dom.postJSON: a refusal's per-field problems are read from the body.
    fetch(url, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(values()),
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf || "" }
    }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (data) {
        if (r.ok) {
          form.hidden = true;
          status.textContent = "已保存：" + data.name + (data.active ? "" : "（已下架，通话中不再推介）");
          return load(true);
        }
        if (r.status === 401) { throw new Error("登录已过期，请刷新页面重新登录。"); }
        showProblems(data && data.problems);
        throw new Error((data && data.error) || ("服务器返回错误 " + r.status));
      });
    }, function () { throw new Error("网络错误，无法连接到服务器。"); })
      .catch(function (err) { Dom.showError(formError, err); })
      .then(function () { submit.disabled = false; });
  });

  Dom.byId("product-cancel").addEventListener("click", function () { form.hidden = true; clearErrors(); });
  Dom.byId("product-new").addEventListener("click", function () { open(null); });

  /* ---------- the list ---------- */

  function row(p) {
    var tr = el("tr", p.active ? null : "product-inactive");
    tr.setAttribute("data-product", p.code);
    tr.appendChild(el("td", null, p.code));
    tr.appendChild(el("td", null, p.name));
    tr.appendChild(el("td", null, p.category_label));
    tr.appendChild(el("td", null, p.risk_level || "—"));
    tr.appendChild(el("td", "num", p.min_amount));
    tr.appendChild(el("td", null, p.selling_points.length + " 条"));
    var state = el("td");
    state.appendChild(el("span", "badge" + (p.active ? "" : " danger"), p.active ? "在售" : "已下架"));
    tr.appendChild(state);
    var edit = el("button", "btn small", "修改");
    edit.type = "button";
    edit.addEventListener("click", function () { open(p); });
    var cell = el("td");
    cell.appendChild(edit);
    tr.appendChild(cell);
    return tr;
  }

  function load(keepStatus) {
    return Dom.getJSON("/api/products").then(function (list) {
      Dom.showError(errorBox, null);
      body.textContent = "";
      list.forEach(function (p) { body.appendChild(row(p)); });
      table.hidden = !list.length;
      if (!keepStatus) { status.textContent = list.length ? "" : "还没有产品。"; }
    }, function (err) {
      status.textContent = "";
      Dom.showError(errorBox, err);
    });
  }

  panel.addEventListener("tabshown", function () { load(false); });
})();
