// Chronos course builder: SortableJS drag-drop wired to htmx as in htmx's sortable example
// (https://htmx.org/examples/sortable/). Dropping fires Sortable's bubbling "end" event,
// on which #outline posts every `item` input in page order; the server renumbers in one
// transaction and returns the outline, which replaces this one.
(function () {
  "use strict";

  function makeSortable(el, options) {
    if (el.dataset.sortableReady) return;
    el.dataset.sortableReady = "1";
    var instance = new Sortable(el, Object.assign({
      animation: 150,
      ghostClass: "is-ghost",
      chosenClass: "is-chosen",
      forceFallback: true,       // mouse/touch events, not native DnD: same on phones
      onEnd: function () { this.option("disabled", true); }  // until the new outline arrives
    }, options));
    return instance;
  }

  htmx.onLoad(function (root) {
    if (typeof Sortable === "undefined") return;
    var scope = root.querySelectorAll ? root : document;
    scope.querySelectorAll(".js-sortable-modules").forEach(function (el) {
      makeSortable(el, { handle: ".module-handle", draggable: ".builder-module" });
    });
    scope.querySelectorAll(".js-sortable-lessons").forEach(function (el) {
      makeSortable(el, {
        group: "lessons",          // lessons move between modules
        handle: ".lesson-handle",
        draggable: ".builder-lesson",
        emptyInsertThreshold: 24
      });
    });
  });

  // The picker's close button empties its slot.
  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-picker-close]");
    if (!close) return;
    var slot = close.closest(".picker-slot");
    if (slot) slot.innerHTML = "";
  });

  // A failed order post (400) still swaps the outline back in: show the server's message.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 400 && event.detail.target.id === "outline") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
