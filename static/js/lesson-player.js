// Chronos lesson page: watch events (xAPI video profile verbs), resume, speed, transcript
// follow/seek, notes at the current second, and "Ask about this lesson" (htmx + SSE).
//
// Events: {lesson_id, session_id (one UUID per page load), seq, verb, position, from, to,
// rate, client_time}. played/paused/heartbeat/ended carry the played interval [from, to]
// since the last report; seeked carries the jump (from -> to). Sent to the watch-events
// endpoint at once on play/pause/seek/ended, every 10 s while playing (a heartbeat), and
// with navigator.sendBeacon when the page is hidden (CSRF token in the form body).
(function () {
  "use strict";

  var HEARTBEAT_MS = 10000;
  var root = document.getElementById("lesson-player");
  var video = document.getElementById("lesson-video");
  if (!root || !video) return;

  var lessonId = Number(root.dataset.lessonId);
  var eventsUrl = root.dataset.eventsUrl;
  var csrf = root.dataset.csrf;
  // Who this player speaks for, signed by the server (courses/watch_tickets.py): sent with
  // each batch so steady heartbeats take the fast lane; every answer that carries a new
  // one replaces it.
  var ticket = root.dataset.watchTicket || "";
  var sessionId = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : uuid4();
  var seq = 0;
  var queue = [];
  var openFrom = null;      // start of the played interval not yet reported
  var lastTime = 0;         // last known playhead (before a seek moves it)
  var lastRate = video.playbackRate;
  var timer = null;
  var ignoreSeek = false;   // the resume jump is ours, not the student's

  function uuid4() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function r3(x) { return Math.round(x * 1000) / 1000; }

  function push(verb, from, to, rate) {
    seq += 1;
    queue.push({
      lesson_id: lessonId, session_id: sessionId, seq: seq, verb: verb,
      position: r3(video.currentTime), from: from == null ? null : r3(from),
      to: to == null ? null : r3(to), rate: rate || video.playbackRate,
      client_time: new Date().toISOString()
    });
  }

  function flush() {
    if (!queue.length) return;
    var batch = queue; queue = [];
    var headers = { "Content-Type": "application/json", "X-CSRFToken": csrf };
    if (ticket) headers["X-Watch-Ticket"] = ticket;
    fetch(eventsUrl, {
      method: "POST", credentials: "same-origin", keepalive: true,
      headers: headers, body: JSON.stringify({ events: batch })
    }).then(function (r) {
      var renewed = r.headers.get("X-Watch-Ticket");
      if (renewed) ticket = renewed;
      if (r.status >= 500) queue = batch.concat(queue);  // retried with the next flush
    }).catch(function () { queue = batch.concat(queue); });
  }

  function beacon() {
    if (!queue.length || !navigator.sendBeacon) return flush();
    var body = new URLSearchParams();
    body.set("csrfmiddlewaretoken", csrf);
    body.set("events", JSON.stringify(queue));
    if (navigator.sendBeacon(eventsUrl, body)) queue = [];
  }

  // Report the open played interval (if any) and start a new one at the playhead.
  function closeInterval(verb, rate) {
    if (openFrom == null) return;
    var now = video.currentTime;
    push(verb, openFrom, Math.max(openFrom, now), rate);
    openFrom = video.paused ? null : now;
  }

  video.addEventListener("play", function () {
    push("played", video.currentTime, video.currentTime);
    flush();
  });

  video.addEventListener("playing", function () {
    var status = document.getElementById("lesson-status");
    if (status && status.textContent.trim() === "Not started") status.textContent = "In progress";
    clearInterval(timer);
    timer = setInterval(function () { closeInterval("heartbeat"); flush(); }, HEARTBEAT_MS);
    if (openFrom == null) openFrom = video.currentTime;  // else: open since a seek/buffering
  });

  video.addEventListener("pause", function () {
    clearInterval(timer);
    if (video.ended) return;  // "ended" reports the last interval
    if (openFrom != null) { push("paused", openFrom, Math.max(openFrom, lastTime, video.currentTime)); }
    openFrom = null;
    flush();
  });

  video.addEventListener("ended", function () {
    clearInterval(timer);
    var end = video.duration || video.currentTime;
    push("ended", openFrom == null ? end : openFrom, end);
    openFrom = null;
    flush();
    var next = document.getElementById("next-lesson");
    if (next) next.classList.add("is-ready");
    var status = document.getElementById("lesson-status");
    if (status) status.textContent = "Finished: the next lesson is ready.";
  });

  video.addEventListener("seeking", function () {
    if (ignoreSeek) return;
    if (openFrom != null && lastTime > openFrom) push("heartbeat", openFrom, lastTime);
    push("seeked", lastTime, video.currentTime);
    openFrom = video.paused ? null : video.currentTime;
    lastTime = video.currentTime;
    flush();
  });

  video.addEventListener("seeked", function () { ignoreSeek = false; lastTime = video.currentTime; });

  video.addEventListener("ratechange", function () {
    closeInterval("heartbeat", lastRate);
    lastRate = video.playbackRate;
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { closeInterval("heartbeat"); beacon(); }
  });
  window.addEventListener("pagehide", function () { closeInterval("heartbeat"); beacon(); });

  // Resume where the student left off.
  var resume = parseFloat(root.dataset.resume || "0");
  function doResume() {
    if (resume > 0 && (!video.duration || resume < video.duration - 2)) {
      ignoreSeek = true;
      video.currentTime = resume;
      lastTime = resume;
    }
  }
  if (video.readyState >= 1) doResume(); else video.addEventListener("loadedmetadata", doResume, { once: true });

  // Speed.
  var speed = document.getElementById("lesson-speed");
  if (speed) speed.addEventListener("change", function () { video.playbackRate = parseFloat(speed.value) || 1; });

  // Seek helpers: transcript lines, note times and citations share data-seek/data-start.
  function seekTo(seconds) {
    if (!isFinite(seconds)) return;
    video.currentTime = seconds;
    var p = video.play();
    if (p && p.catch) p.catch(function () {});
  }
  document.addEventListener("click", function (event) {
    var el = event.target.closest("[data-seek], .tx-line");
    if (!el) return;
    seekTo(parseFloat(el.dataset.seek != null ? el.dataset.seek : el.dataset.start));
  });

  // Transcript follows playback; the "Add note at" label shows the current second.
  var lines = Array.prototype.slice.call(document.querySelectorAll(".tx-line"));
  var txBox = document.getElementById("tx-lines");
  var current = null;
  function label(t) {
    t = Math.floor(t || 0);
    var h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s).padStart(2, "0");
  }
  video.addEventListener("timeupdate", function () {
    var t = video.currentTime;
    if (!video.seeking) lastTime = t;
    document.querySelectorAll("[data-current-time]").forEach(function (el) { el.textContent = label(t); });
    var found = null;
    for (var i = 0; i < lines.length; i++) {
      if (parseFloat(lines[i].dataset.start) <= t) found = lines[i]; else break;
    }
    if (found === current) return;
    if (current) current.classList.remove("is-current");
    current = found;
    if (current && txBox) {
      current.classList.add("is-current");
      var top = current.offsetTop - txBox.offsetTop - txBox.clientHeight / 3;
      txBox.scrollTo({ top: Math.max(0, top), behavior: "smooth" });
    }
  });

  // Notes are added at the player's current second.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt && event.detail.elt.matches && event.detail.elt.matches("[data-note-form], [data-ask-form]")) {
      event.detail.parameters.position = r3(video.currentTime);
    }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches && form.matches("[data-note-form], [data-ask-form]")) form.elements.position.value = r3(video.currentTime);
  }, true);

  // "Ask about this lesson": htmx posts the form (chat:ask, panel=lesson: this course's
  // scope, the lesson's video and the player's second) and streams the answer into the log
  // (chat/partials/message.html). Here: the busy state, a refused question back into the
  // box, "[n]" markers (cite-markers.js) and citations: this lesson's video seeks the
  // player, another video opens at the cited second.
  var askForm = document.getElementById("ask-form");
  var askLog = document.getElementById("ask-log");
  if (askForm && askLog) {
    var askText = askForm.elements.message;
    var askSend = document.getElementById("ask-send");
    var askAlert = document.getElementById("ask-alert");
    var asked = "", requesting = false;
    var syncAsk = function () {
      askLog.querySelectorAll(".msg-assistant:not(.is-streaming)").forEach(window.ChronosCites.linkMarkers);
      var busy = requesting || !!askLog.querySelector(".is-streaming");
      askSend.disabled = busy;
      askSend.textContent = busy ? "Answering…" : "Ask";
      askLog.querySelectorAll("[data-retry]").forEach(function (bubble) {
        askText.value = bubble.dataset.retry;
        bubble.removeAttribute("data-retry");
      });
      // The latest question at the top of the log, its answer below it.
      var users = askLog.querySelectorAll(".msg-user");
      var last = users[users.length - 1];
      if (last) askLog.scrollTop += last.getBoundingClientRect().top - askLog.getBoundingClientRect().top;
    };
    document.body.addEventListener("htmx:beforeRequest", function (e) {
      if (e.detail.elt !== askForm) return;
      if (!askText.value.trim() || askSend.disabled) return e.preventDefault();
      asked = askText.value;
      askText.value = "";  // the request already holds it
      askAlert.textContent = "";
      requesting = true;
      syncAsk();
    });
    document.body.addEventListener("htmx:afterRequest", function (e) {
      if (e.detail.elt !== askForm) return;
      requesting = false;
      if (!e.detail.successful) {
        askText.value = asked;
        askAlert.textContent = "Couldn't reach Chronos just now. Please try again in a moment.";
      }
      syncAsk();
    });
    document.body.addEventListener("htmx:afterSettle", syncAsk);
    document.body.addEventListener("htmx:sseMessage", syncAsk);
    askLog.addEventListener("click", function (event) {
      var marker = event.target.closest(".cite-marker");
      var card = marker ? window.ChronosCites.cardFor(marker) : event.target.closest(".cite-card, .near-card");
      if (!card || !card.dataset.src) return;
      var start = parseFloat(card.dataset.start) || 0;
      if (card.dataset.videoId === String(root.dataset.videoId)) seekTo(start);
      else window.open(card.dataset.src + "#t=" + start, "_blank", "noopener");
    });
  }
})();
