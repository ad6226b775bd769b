/* Small DOM and fetch helpers shared by every page. Text always goes in through textContent,
   never innerHTML, so user strings cannot become markup. */
(function () {
  "use strict";
  var labels = null;

  /* The labels the server put in the page (bot/playbook/labels.yml via bot/labels.py): the
     pages hold no label text of their own, so one file decides what every button says. */
  function readLabels() {
    if (labels) { return labels; }
    var node = document.getElementById("labels");
    try { labels = node ? JSON.parse(node.textContent) : null; } catch (e) { labels = null; }
    labels = labels || {};
    ["dispositions", "stages", "buttons", "intents", "difficulties", "moods", "rehearsal_outcomes",
     "line_functions", "rehearsal_buttons"].forEach(function (k) { labels[k] = labels[k] || {}; });
    ["disposition_order", "stage_order", "outcome_bar", "shortcuts"].forEach(function (k) { labels[k] = labels[k] || []; });
    return labels;
  }

  /* JSON data the server embedded in the page (<script type="application/json" id=...>). */
  function embedded(id) {
    var node = document.getElementById(id);
    try { return node ? JSON.parse(node.textContent) : null; } catch (e) { return null; }
  }

  /* fetch() for the JSON API: resolves with {data, response}, rejects with the server's Chinese error. */
  function fetchJSON(url, init) {
    init = init || {};
    init.credentials = "same-origin";
    init.headers = Object.assign({ Accept: "application/json" }, init.headers || {});
    return fetch(url, init).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (data) {
        if (r.status === 401) { throw new Error("登录已过期，请刷新页面重新登录。"); }
        if (!r.ok) { throw new Error((data && data.error) || ("服务器返回错误 " + r.status)); }
        return { data: data, response: r };
      });
    }, function () { throw new Error("网络错误，无法连接到服务器。"); });
  }

  function requestJSON(url, init) {
    return fetchJSON(url, init).then(function (got) { return got.data; });
  }

  /* One page of a paged list (?offset=&limit=): {items, total}, the total from X-Total-Count. */
  function getPage(url) {
    return fetchJSON(url).then(function (got) {
      var total = parseInt(got.response.headers.get("X-Total-Count"), 10);
      return { items: got.data, total: isNaN(total) ? got.data.length : total };
    });
  }

  /* A POST of the session-cookie API: JSON body, the page's CSRF token in the header. */
  function postJSON(url, body, csrf) {
    return requestJSON(url, {
      method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf || "" }
    });
  }

  /* "2026-11-23T10:05:00" -> "2026-11-23 10:05". */
  function when(iso) {
    if (!iso) { return "—"; }
    return String(iso).replace("T", " ").slice(0, 16);
  }

  function showError(box, err) {
    if (!box) { return; }
    if (!err) { box.hidden = true; box.textContent = ""; return; }
    box.textContent = err.message || String(err);
    box.hidden = false;
  }

  window.SalesbotDom = {
    byId: function (id) { return document.getElementById(id); },
    el: function (tag, className, text) {
      var node = document.createElement(tag);
      if (className) { node.className = className; }
      if (text !== undefined && text !== null) { node.textContent = String(text); }
      return node;
    },
    labels: readLabels,
    embedded: embedded,
    getJSON: function (url) { return requestJSON(url); },
    getPage: getPage,
    postJSON: postJSON,
    when: when,
    showError: showError
  };
})();
