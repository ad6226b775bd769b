/* Small DOM helpers shared by the widget and the review page. Text always goes in
   through textContent, never innerHTML, so user strings cannot become markup. */
(function () {
  "use strict";
  window.SalesbotDom = {
    byId: function (id) { return document.getElementById(id); },
    el: function (tag, className, text) {
      var node = document.createElement(tag);
      if (className) { node.className = className; }
      if (text !== undefined && text !== null) { node.textContent = String(text); }
      return node;
    }
  };
})();
