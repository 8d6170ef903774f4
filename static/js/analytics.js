/* Analytics pages: draw each Plotly figure from its json_script data (built in Python,
 * analytics/figures.py) and auto-submit the course/video pickers. No inline scripts. */
(function () {
  "use strict";

  var CONFIG = {
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
  };

  function narrow(layout) {
    // Phones: smaller margins and title so the plot area keeps most of 375 px.
    if (window.innerWidth >= 640) return layout;
    var l = Object.assign({}, layout);
    l.margin = Object.assign({}, layout.margin || {}, { l: Math.min((layout.margin || {}).l || 40, 40), r: 8 });
    if (l.title && l.title.font) l.title = Object.assign({}, l.title, { font: { size: 13 } });
    l.title = Object.assign({}, l.title || {}, { text: "" }); // the card's <h2> shows it
    return l;
  }

  function draw() {
    if (!window.Plotly) return;
    document.querySelectorAll(".an-figure[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      var layout = narrow(fig.layout || {});
      layout.title = Object.assign({}, layout.title || {}, { text: "" }); // <h2> is the title
      layout.margin = Object.assign({}, layout.margin || {}, { t: Math.max(12, ((layout.margin || {}).t || 44) - 32) });
      window.Plotly.newPlot(el, fig.data, layout, CONFIG);
    });
  }

  function autosubmit() {
    document.querySelectorAll("select.an-autosubmit").forEach(function (sel) {
      sel.addEventListener("change", function () {
        if (sel.form) sel.form.submit();
      });
    });
  }

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }
  ready(function () {
    draw();
    autosubmit();
  });
})();
