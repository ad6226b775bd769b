/* Small DOM helpers shared by the widget and the review page. Text always goes in
   through textContent, never innerHTML, so user strings cannot become markup. */
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
    ["dispositions", "stages", "buttons", "intents"].forEach(function (k) { labels[k] = labels[k] || {}; });
    ["disposition_order", "stage_order", "outcome_bar", "shortcuts"].forEach(function (k) { labels[k] = labels[k] || []; });
    return labels;
  }

  window.SalesbotDom = {
    byId: function (id) { return document.getElementById(id); },
    el: function (tag, className, text) {
      var node = document.createElement(tag);
      if (className) { node.className = className; }
      if (text !== undefined && text !== null) { node.textContent = String(text); }
      return node;
    },
    labels: readLabels
  };
})();
