/* "Show number" on the transcript page: a supervisor asks for a client's full phone number
 * (one button per client of the conversation). The server writes the request to the audit
 * table before answering. */
(function () {
  "use strict";
  var byId = window.SalesbotDom.byId;
  Array.prototype.forEach.call(document.querySelectorAll("[data-reveal-phone]"), function (button) {
    button.addEventListener("click", function () {
      button.disabled = true;
      fetch("/api/clients/" + encodeURIComponent(button.getAttribute("data-client")) + "/phone", {
        method: "POST", credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": button.getAttribute("data-csrf") }
      }).then(function (r) {
        return r.json().catch(function () { return null; }).then(function (data) {
          if (!r.ok) { throw new Error((data && data.error) || ("服务器返回错误 " + r.status)); }
          byId(button.getAttribute("data-target")).textContent = data.phone;
          button.hidden = true;
        });
      }).catch(function (err) {
        var box = byId(button.getAttribute("data-error"));
        box.textContent = err.message || "网络错误，无法连接到服务器。";
        box.hidden = false;
        button.disabled = false;
      });
    });
  });
})();
