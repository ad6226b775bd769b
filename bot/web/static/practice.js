/* 做成陪练场景 on a live call's transcript (supervisors): the server turns the call's relayed customer
 * objections into a rehearsal scenario with a fictional customer (bot/rehearsal/from_calls.py) and
 * says what it made, or why it could not; this only sends the request and shows the answer. */
(function () {
  "use strict";
  var byId = window.SalesbotDom.byId;
  Array.prototype.forEach.call(document.querySelectorAll("[data-make-practice]"), function (button) {
    var status = byId(button.getAttribute("data-status"));
    button.addEventListener("click", function () {
      button.disabled = true;
      var url = "/api/conversations/" + encodeURIComponent(button.getAttribute("data-conversation")) + "/practice";
      fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": button.getAttribute("data-csrf") }
      }).then(function (r) {
        return r.json().catch(function () { return null; }).then(function (data) {
          if (!r.ok) { throw new Error((data && data.error) || ("服务器返回错误 " + r.status)); }
          status.textContent = data.message;
          status.classList.remove("inline-error");
        });
      }).catch(function (err) {
        status.textContent = err.message || "网络错误，无法连接到服务器。";
        status.classList.add("inline-error");
        button.disabled = false;
      });
    });
  });
})();
