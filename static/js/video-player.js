// Chronos video page: the transcript drives the player and follows it.
// - click (or Enter/Space on) a line  -> seek the player to the line's start and play
// - while playing                      -> the current line is highlighted (and kept in view
//                                         inside the transcript box when "Follow" is on)
// - ?t=<seconds> in the page URL       -> start there (citation links use it)
(function () {
  "use strict";
  var player = document.getElementById("player");
  var list = document.getElementById("transcript");
  var errorBox = document.getElementById("player-error");
  if (!player) return;

  var lines = list ? Array.prototype.slice.call(list.querySelectorAll(".vid-line")) : [];
  var starts = lines.map(function (el) { return parseFloat(el.dataset.start) || 0; });
  var current = null;
  var follow = document.getElementById("follow-transcript");

  function seek(seconds, play) {
    if (!isFinite(seconds) || seconds < 0) return;
    var apply = function () {
      player.currentTime = seconds;
      if (play) {
        var p = player.play();
        if (p && p.catch) p.catch(function () { /* autoplay blocked: the seek still happened */ });
      }
      highlight(true);
    };
    if (player.readyState >= 1) apply();
    else player.addEventListener("loadedmetadata", apply, { once: true });
  }

  // The last line whose start is <= t (binary search; lines are in time order).
  function lineAt(t) {
    var lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (starts[mid] <= t + 0.05) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  function keepInView(el) {
    if (!list || (follow && !follow.checked)) return;
    var box = list.getBoundingClientRect();
    var r = el.getBoundingClientRect();
    if (r.top < box.top || r.bottom > box.bottom) {
      list.scrollTop += r.top - box.top - box.height / 3;
    }
  }

  // `reveal`: scroll the line into the transcript box even while paused (a seek, ?t=).
  function highlight(reveal) {
    if (!lines.length) return;
    var i = lineAt(player.currentTime);
    var el = i >= 0 ? lines[i] : null;
    if (el === current) return;
    if (current) { current.classList.remove("is-current"); current.removeAttribute("aria-current"); }
    current = el;
    if (el) {
      el.classList.add("is-current");
      el.setAttribute("aria-current", "true");
      if (!player.paused || reveal === true) keepInView(el);
    }
  }

  if (list) {
    list.addEventListener("click", function (event) {
      var line = event.target.closest(".vid-line");
      if (!line) return;
      seek(parseFloat(line.dataset.start), true);
    });
  }
  player.addEventListener("timeupdate", function () { highlight(); });
  player.addEventListener("seeked", function () { highlight(); });
  player.addEventListener("error", function () {
    if (errorBox) errorBox.classList.remove("hidden");
  });

  var t = parseFloat(new URLSearchParams(window.location.search).get("t"));
  if (isFinite(t) && t > 0) seek(t, false);

  window.ChronosPlayer = { seek: seek };
})();
