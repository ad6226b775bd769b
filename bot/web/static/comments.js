/* Coaching comments: the thread under a transcript (live call or rehearsal) with the supervisor's
 * form, and the "主管点评" list of comments on the user's own transcripts (widget, rehearsal).
 * The server decides who may read and write (bot.rehearsal.records); this only draws.
 */
(function () {
  "use strict";
  var Dom = window.SalesbotDom;
  var el = Dom.el;

  function comment(c, withLink) {
    var li = el("li", "comment");
    var head = el("div", "comment-head");
    head.appendChild(el("strong", null, c.author_name || c.author));
    head.appendChild(el("span", "muted", Dom.when(c.created_at)));
    if (withLink && c.url) {
      var link = el("a", null, c.about || "查看记录");
      link.href = c.url;
      link.setAttribute("aria-label", "查看点评所在的记录：" + (c.about || ""));
      head.appendChild(link);
    }
    li.appendChild(head);
    li.appendChild(el("p", "comment-body", c.body));
    return li;
  }

  function fill(list, comments, empty, withLink) {
    list.textContent = "";
    if (!comments.length) { list.appendChild(el("li", "muted", empty)); return; }
    comments.forEach(function (c) { list.appendChild(comment(c, withLink)); });
  }

  /* <section data-comments data-conversation=... data-csrf=...> with [data-comments-list],
     [data-comments-error] and, for supervisors, [data-comments-form]. */
  function thread(section) {
    var url = "/api/conversations/" + encodeURIComponent(section.getAttribute("data-conversation")) + "/comments";
    var list = section.querySelector("[data-comments-list]");
    var errorBox = section.querySelector("[data-comments-error]");
    var form = section.querySelector("[data-comments-form]");

    function load() {
      return Dom.getJSON(url).then(function (comments) {
        Dom.showError(errorBox, null);
        fill(list, comments, "还没有主管点评。", false);
      }, function (err) { Dom.showError(errorBox, err); });
    }

    if (form) {
      var status = form.querySelector("[data-comments-status]");
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var button = form.querySelector("button[type=submit]");
        button.disabled = true;
        status.textContent = "正在保存…";
        Dom.postJSON(url, { body: form.elements.body.value }, section.getAttribute("data-csrf")).then(function () {
          form.reset();
          status.textContent = "点评已保存。";
          return load();
        }, function (err) {
          status.textContent = "";
          Dom.showError(errorBox, err);
        }).then(function () { button.disabled = false; });
      });
    }
    load();
  }

  /* The comments on the caller's own transcripts, newest first, each linking to its record. */
  function mine(list, errorBox) {
    if (!list) { return; }
    Dom.getJSON("/api/comments/mine").then(function (comments) {
      Dom.showError(errorBox, null);
      fill(list, comments.slice(0, 20), "还没有主管点评。", true);
    }, function (err) { Dom.showError(errorBox, err); });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-comments]"), thread);
  mine(document.getElementById("comments-mine"), document.getElementById("comments-mine-error"));  // chat_page.html

  window.SalesbotComments = { thread: thread, mine: mine };
})();
