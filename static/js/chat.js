/* Chronos student chat: only what htmx cannot do. htmx posts the question (the form in
 * templates/chat/chat.html), appends the server's partial (chat/partials/message.html) and
 * streams the answer with its SSE extension. This file: Enter to send, the busy state while
 * an answer streams, a refused question back into the box, "[n]" markers (cite-markers.js), the
 * player (a citation plays its video from that second), the drawer and Escape.
 */
(function () {
  "use strict";

  var app = document.getElementById("chat-app");
  if (!app) return;
  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-composer");
  var input = document.getElementById("chat-input");
  var sendBtn = document.getElementById("chat-send");
  var player = document.getElementById("player");
  var playerEmpty = document.getElementById("player-empty");
  var playerMeta = document.getElementById("player-meta");
  var drawerOpenBtn = document.querySelector(".chat-drawer-open");
  var backdrop = document.querySelector(".chat-backdrop");
  var noLibrary = input.disabled;
  var requesting = false;
  var lastQuestion = "";

  function scrollToBottom() { log.scrollTop = log.scrollHeight; }

  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 200) + "px";
  }

  /** Busy while an answer streams: no second question until it is done. */
  function syncBusy() {
    var busy = noLibrary || requesting || !!log.querySelector(".is-streaming");
    input.disabled = busy;
    sendBtn.disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
    sendBtn.textContent = busy && !noLibrary ? "Answering…" : "Send";
    if (!busy && !("ontouchstart" in window) && !typingElsewhere()) input.focus();
  }

  /** True while the caret is in another field (a conversation being renamed, the search):
   *  every htmx swap settles through here, and the rename form's swap must keep its caret. */
  function typingElsewhere() {
    var active = document.activeElement;
    return !!active && active !== input && !form.contains(active) &&
      /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  }

  /** After htmx changed the log: link markers, give a refused question back, scroll. */
  function settle() {
    log.querySelectorAll(".msg-assistant:not(.is-streaming)").forEach(window.ChronosCites.linkMarkers);
    log.querySelectorAll("[data-retry]").forEach(function (bubble) {
      input.value = bubble.dataset.retry;
      bubble.removeAttribute("data-retry");
      autosize();
    });
    syncBusy();
    scrollToBottom();
  }

  function submit() { if (input.value.trim() && !input.disabled) form.requestSubmit(); }

  document.body.addEventListener("htmx:beforeRequest", function (e) {
    if (e.detail.elt !== form) return;
    if (!input.value.trim()) return e.preventDefault();
    lastQuestion = input.value;
    input.value = ""; // the request already holds the question
    requesting = true;
    document.getElementById("chat-alert").textContent = "";
    autosize();
    syncBusy();
  });
  document.body.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.elt !== form) return;
    requesting = false;
    if (e.detail.successful) return;
    input.value = lastQuestion; // no answer at all (offline, 5xx): the question goes back
    document.getElementById("chat-alert").textContent = "Couldn't reach Chronos just now. Please try again in a moment.";
    syncBusy();
  });
  document.body.addEventListener("htmx:afterSettle", settle);
  document.body.addEventListener("htmx:sseMessage", function (e) {
    if (e.detail.type !== "delta") settle();
    else if (log.scrollHeight - log.scrollTop - log.clientHeight < 160) scrollToBottom();
  });

  function unmarkPlaying() {
    document.querySelectorAll(".cite-card.is-playing, .near-card.is-playing").forEach(function (c) { c.classList.remove("is-playing"); });
  }

  function play(start) {
    try { player.currentTime = start; } catch (err) { /* not seekable yet */ }
    var p = player.play();
    if (p && p.catch) p.catch(function () {});
  }

  function playCard(card) {
    if (!card.dataset.src) return;
    var start = parseFloat(card.dataset.start) || 0;
    app.classList.add("has-video");
    player.classList.remove("hidden");
    playerEmpty.classList.add("hidden");
    playerMeta.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = card.dataset.title || "Video";
    playerMeta.append(strong, " · from " + card.dataset.label);
    unmarkPlaying();
    card.classList.add("is-playing");
    if (player.dataset.videoId === card.dataset.videoId && player.readyState >= 1) {
      play(start); // same video: just seek
    } else {
      player.dataset.videoId = card.dataset.videoId;
      player.addEventListener("loadedmetadata", function () { play(start); }, { once: true });
      player.src = card.dataset.src;
      player.load();
      play(start); // inside the click, so autoplay rules allow it
    }
    if (window.matchMedia("(max-width: 1099px)").matches) {
      document.getElementById("chat-player").scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
  }

  function closePlayer() {
    player.pause();
    app.classList.remove("has-video");
    player.classList.add("hidden");
    playerEmpty.classList.remove("hidden");
    playerMeta.textContent = "";
    unmarkPlaying();
  }

  function setDrawer(open) {
    app.classList.toggle("drawer-open", open);
    drawerOpenBtn.setAttribute("aria-expanded", open ? "true" : "false");
    backdrop.hidden = !open;
    if (open) document.querySelector(".chat-search").focus();
    else if (document.getElementById("chat-sidebar").contains(document.activeElement)) drawerOpenBtn.focus();
  }

  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", autosize);

  document.addEventListener("click", function (e) {
    var target = e.target.closest ? e.target : e.target.parentElement;
    document.querySelectorAll(".chat-session-menu[open]").forEach(function (menu) {
      if (!menu.contains(target)) menu.removeAttribute("open");
    });
    var starter = target.closest(".chat-starter");
    var card = target.closest(".cite-card, .near-card"); // a source, or a closest moment
    var marker = target.closest(".cite-marker");
    if (starter) {
      e.preventDefault(); // htmx posts it: the starter goes through the box like a typed question
      input.value = starter.value;
      submit();
    } else if (card) {
      playCard(card);
    } else if (marker) {
      var match = window.ChronosCites.cardFor(marker);
      if (match) playCard(match);
    } else if (target.closest("#player-close")) {
      closePlayer();
    } else if (target.closest(".chat-drawer-open")) {
      setDrawer(!app.classList.contains("drawer-open"));
    } else if (target.closest("[data-drawer-close]")) {
      setDrawer(false);
    }
  });

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var menu = document.querySelector(".chat-session-menu[open]");
    if (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    } else if (app.classList.contains("drawer-open")) setDrawer(false);
  });

  settle();
})();
