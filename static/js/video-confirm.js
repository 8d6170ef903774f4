// Chronos: ask before destructive form posts. <form data-confirm="Delete …?"> (no JS: posts directly).
// With data-confirm-lessons="<url of courses' lessons fragment>" the question first lists
// the course lessons that use the video (what deleting it does to them), then posts.
(function () {
  var NOTE = "\n\nThose lessons will show “video removed” to you and be hidden from students.";

  function lessonLines(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    return Array.prototype.map.call(doc.querySelectorAll("li"), function (li) {
      return "• " + li.textContent.replace(/\s+/g, " ").trim();
    });
  }

  function askWithLessons(form, url) {
    var question = form.getAttribute("data-confirm");
    fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .catch(function () { return ""; })
      .then(function (html) {
        var lines = html ? lessonLines(html) : [];
        var extra = lines.length
          ? "\n\nUsed in " + lines.length + (lines.length === 1 ? " lesson:\n" : " lessons:\n") +
            lines.join("\n") + NOTE
          : "";
        if (window.confirm(question + extra)) form.submit();
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (!form) return;
    var url = form.getAttribute("data-confirm-lessons");
    if (url) {
      event.preventDefault();
      event.stopImmediatePropagation();
      askWithLessons(form, url);
    } else if (!window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();
