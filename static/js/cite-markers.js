/* Chronos citation markers, shared by the chat page (static/js/chat.js) and the lesson
 * page's "Ask about this lesson" panel (static/js/lesson-player.js): "[n]" in an answer's
 * text becomes a button for citation n (.cite-card[data-n] of the same message, rendered
 * by chat/partials/message.html). Exposes window.ChronosCites.{linkMarkers, cardFor}.
 */
(function () {
  "use strict";

  var ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };

  /** Turn "[n]" in an answer's text into buttons that play citation n (once per message). */
  function linkMarkers(article) {
    var bubble = article.querySelector(".msg-bubble");
    if (!bubble || article.dataset.linked) return;
    article.dataset.linked = "1";
    var numbers = {};
    article.querySelectorAll(".cite-card[data-n]").forEach(function (card) { numbers[card.dataset.n] = true; });
    var walker = document.createTreeWalker(bubble, NodeFilter.SHOW_TEXT);
    var nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach(function (node) {
      if (!/\[\d+\]/.test(node.nodeValue) || node.parentElement.closest("code, pre, a, button")) return;
      var tpl = document.createElement("template");
      tpl.innerHTML = node.nodeValue.replace(/[&<>]/g, function (c) { return ESCAPES[c]; })
        .replace(/\[(\d+)\]/g, function (text, n) {
          return numbers[n] ? '<button type="button" class="cite-marker" data-n="' + n + '" aria-label="Play source ' + n + '">' + n + "</button>" : text;
        });
      node.replaceWith(tpl.content);
    });
  }

  /** The citation card a marker button stands for (null if none). */
  function cardFor(marker) {
    return marker.closest(".msg").querySelector('.cite-card[data-n="' + marker.dataset.n + '"]');
  }

  window.ChronosCites = { linkMarkers: linkMarkers, cardFor: cardFor };
})();
