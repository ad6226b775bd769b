/* The supervisor's 账号 tab (review.html): the team's accounts, a form to create one, and per account
 * 停用 / 启用 / 重置密码. A new or reset account's one-time password is shown once, in a box with a copy
 * button; the server never shows it again. The server decides who may do this and checks every
 * input (GET/POST /api/team/users ...); this only draws. Roles come from the served labels. */
(function () {
  "use strict";
  var Dom = window.SalesbotDom;
  var el = Dom.el;
  var panel = Dom.byId("panel-team");
  if (!panel) { return; }
  var ROLES = Dom.labels().roles || {};
  var body = Dom.byId("team-body");
  var table = Dom.byId("team-table");
  var status = Dom.byId("team-status");
  var errorBox = Dom.byId("team-error");
  var form = Dom.byId("team-create");
  var secretBox = Dom.byId("team-secret");
  var csrf = panel.getAttribute("data-csrf");

  Object.keys(ROLES).forEach(function (code) {
    var option = el("option", null, ROLES[code]);
    option.value = code;
    form.elements.role.appendChild(option);
  });

  function copy(text, button) {
    function done() { button.textContent = "已复制"; }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () { selectSecret(); });
    } else {
      selectSecret();
      try { if (document.execCommand("copy")) { done(); } } catch (e) { /* the text stays selected */ }
    }
  }

  function selectSecret() {
    var code = secretBox.querySelector("code");
    if (!code) { return; }
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  /* The one-time password, once: who it is for, the password, a copy button and the warning. */
  function showSecret(user, password) {
    secretBox.textContent = "";
    secretBox.appendChild(el("p", "secret-title", user.name + "（" + user.login + "）的一次性密码："));
    var line = el("p", "secret-line");
    line.appendChild(el("code", "secret", password));
    var copyButton = el("button", "btn small", "复制");
    copyButton.type = "button";
    copyButton.addEventListener("click", function () { copy(password, copyButton); });
    line.appendChild(copyButton);
    secretBox.appendChild(line);
    secretBox.appendChild(el("p", "secret-warning",
      "这个密码只显示这一次，关闭或刷新页面后无法再次查看。请当面或通过安全渠道交给本人；对方用它登录后必须先设置自己的新密码。"));
    var close = el("button", "btn small", "我已记下，关闭");
    close.type = "button";
    close.addEventListener("click", function () { secretBox.textContent = ""; secretBox.hidden = true; });
    secretBox.appendChild(close);
    secretBox.hidden = false;
    secretBox.focus();
  }

  function act(user, action, question) {
    if (question && !window.confirm(question)) { return; }
    Dom.postJSON("/api/team/users/" + encodeURIComponent(user.login) + "/" + action, {}, csrf).then(function (got) {
      Dom.showError(errorBox, null);
      if (got.one_time_password) { showSecret(got.user, got.one_time_password); }
      if (action === "disable" && got.user.returned_to_pool) {
        status.textContent = user.login + " 已停用，" + got.user.returned_to_pool + " 位客户已退回未分配客户。";
      }
      return load(true);
    }, function (err) { Dom.showError(errorBox, err); });
  }

  function button(text, onClick, className) {
    var b = el("button", "btn small" + (className ? " " + className : ""), text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function row(user) {
    var tr = el("tr", user.active ? null : "account-disabled");
    tr.setAttribute("data-login", user.login);
    tr.appendChild(el("td", null, user.login));
    tr.appendChild(el("td", null, user.name));
    tr.appendChild(el("td", null, user.role_label || ROLES[user.role] || user.role));
    var state = el("td");
    state.appendChild(el("span", "badge" + (user.active ? "" : " danger"), user.active ? "启用" : "已停用"));
    if (user.must_change_password) { state.appendChild(el("div", "muted", "待设置新密码")); }
    tr.appendChild(state);
    tr.appendChild(el("td", "num", user.clients));
    tr.appendChild(el("td", null, Dom.when(user.last_active_at)));
    var cell = el("td");
    var actions = el("div", "account-actions");
    cell.appendChild(actions);
    if (user.active) {
      actions.appendChild(button("停用", function () {
        act(user, "disable", "停用 " + user.name + "（" + user.login + "）？其所有登录立即失效，名下客户退回未分配客户。");
      }));
    } else {
      actions.appendChild(button("启用", function () { act(user, "enable"); }));
    }
    actions.appendChild(button("重置密码", function () {
      act(user, "reset", "为 " + user.name + "（" + user.login + "）生成新的一次性密码？其所有登录立即失效。");
    }));
    tr.appendChild(cell);
    return tr;
  }

  function load(keepStatus) {
    return Dom.getJSON("/api/team/users").then(function (users) {
      body.textContent = "";
      users.forEach(function (u) { body.appendChild(row(u)); });
      table.hidden = !users.length;
      if (!keepStatus) { status.textContent = users.length ? "" : "还没有账号。"; }
    }, function (err) {
      status.textContent = "";
      Dom.showError(errorBox, err);
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    Dom.postJSON("/api/team/users", {
      login: form.elements.login.value, name: form.elements.name.value, role: form.elements.role.value
    }, csrf).then(function (got) {
      Dom.showError(errorBox, null);
      form.reset();
      showSecret(got.user, got.one_time_password);
      return load(true);
    }, function (err) { Dom.showError(errorBox, err); }).then(function () { submit.disabled = false; });
  });

  panel.addEventListener("tabshown", function () { load(false); });
})();
