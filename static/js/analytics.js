/* Analytics pages: draw each Plotly figure from the page's one JSON payload (#an-figures,
 * {chart id: figure}, built in Python: analytics/figures/) and auto-submit the course/video
 * pickers. No inline scripts. */
(function () {
  "use strict";

  var CONFIG = {
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
  };

  function prepare(layout) {
    // The card's <h2> shows the title, so the plot gives that space back (the legend sits
    // at the top). Phones: a smaller left margin so the plot keeps most of 375 px.
    var l = Object.assign({}, layout);
    var m = Object.assign({}, layout.margin || {});
    l.title = Object.assign({}, layout.title || {}, { text: "" });
    m.t = Math.max(28, (m.t || 44) - 16);
    if (window.innerWidth < 640) m.l = Math.min(m.l === undefined ? 40 : m.l, 40);
    l.margin = m;
    return l;
  }

  function draw() {
    var source = document.getElementById("an-figures");
    if (!window.Plotly || !source) return;
    var figures = JSON.parse(source.textContent);
    document.querySelectorAll(".an-figure[data-figure]").forEach(function (el) {
      var fig = figures[el.dataset.figure];
      if (!fig) return;
      window.Plotly.newPlot(el, fig.data, prepare(fig.layout || {}), CONFIG);
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
