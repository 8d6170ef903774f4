/* Chronos student chat: streams answers from POST /api/v1/chat (server-sent events read
 * from fetch's ReadableStream), renders citation cards, and plays the cited moment.
 *
 * Safety: streamed deltas are appended as TEXT; the only HTML inserted is the server's
 * sanitised `answer_html` (chat.formatting.markdown_to_safe_html, nh3 allow-list).
 * Markup mirrors templates/chat/chat.html. No dependencies (htmx is used when present
 * to refresh the session list).
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
  var titleEl = document.getElementById("chat-title");
  var currentField = document.getElementById("session-current");

  var state = {
    sessionId: app.dataset.sessionId || "",
    streaming: false,
  };

  // ---- helpers ---------------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /** Seconds -> "m:ss" / "h:mm:ss" (same rule as chat.formatting.format_timestamp). */
  function formatTime(seconds) {
    var total = Math.max(0, Math.floor(Number(seconds) || 0));
    var h = Math.floor(total / 3600);
    var m = Math.floor((total % 3600) / 60);
    var s = total % 60;
    var ss = (s < 10 ? "0" : "") + s;
    if (h) return h + ":" + (m < 10 ? "0" : "") + m + ":" + ss;
    return m + ":" + ss;
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 120;
  }

  function scrollToBottom(force) {
    if (force || nearBottom()) log.scrollTop = log.scrollHeight;
  }

  function removeWelcome() {
    var welcome = document.getElementById("chat-empty");
    if (welcome) welcome.remove();
  }

  function sessionUrl(id) {
    return app.dataset.sessionUrl.replace("/chat/0/", "/chat/" + id + "/");
  }

  function streamUrl(videoId) {
    var tpl = app.dataset.streamUrl || "";
    return tpl ? tpl.replace("/videos/0/", "/videos/" + videoId + "/") : "";
  }

  // ---- message DOM (mirrors templates/chat/chat.html) --------------------------------
  function appendUser(text) {
    var article = el("article", "msg msg-user");
    article.setAttribute("aria-label", "You asked");
    article.appendChild(el("div", "msg-bubble", text));
    log.appendChild(article);
    scrollToBottom(true);
    return article;
  }

  function appendPending() {
    var article = el("article", "msg msg-assistant is-streaming");
    article.setAttribute("aria-label", "Chronos answered");
    article.setAttribute("aria-busy", "true");
    var bubble = el("div", "msg-bubble prose");
    var typing = el("span", "typing");
    typing.setAttribute("role", "status");
    typing.setAttribute("aria-label", "Chronos is looking through the videos");
    typing.appendChild(el("span"));
    typing.appendChild(el("span"));
    typing.appendChild(el("span"));
    bubble.appendChild(typing);
    article.appendChild(bubble);
    log.appendChild(article);
    scrollToBottom(true);
    return { article: article, bubble: bubble, typing: typing, text: null };
  }

  function citationNumber(c, i) {
    var n = c.n !== undefined ? c.n : c.marker;
    return n !== undefined && n !== null ? n : i + 1;
  }

  function buildCards(citations) {
    var list = el("ol", "cites");
    list.setAttribute("aria-label", "Sources");
    citations.forEach(function (c, i) {
      var start = Number(c.start) || 0;
      var label = c.start_label || formatTime(start);
      var n = citationNumber(c, i);
      var li = el("li");
      if (c.kind === "faq") {
        // The creator's own answer (chat.faq): labelled, nothing to play.
        var card = el("div", "cite-card cite-faq");
        var top = el("span", "cite-head");
        top.appendChild(el("span", "cite-n", n));
        top.appendChild(el("span", "cite-title", c.video_title || "Creator's answer"));
        card.appendChild(top);
        card.appendChild(el("span", "cite-quote", c.quote || ""));
        li.appendChild(card);
        list.appendChild(li);
        return;
      }
      var btn = el("button", "cite-card");
      btn.type = "button";
      btn.dataset.n = n;
      btn.dataset.videoId = c.video_id;
      btn.dataset.start = String(start);
      btn.dataset.src = c.stream_url || streamUrl(c.video_id);
      btn.dataset.title = c.video_title || "";
      btn.dataset.label = label;
      btn.setAttribute("aria-label", "Play “" + (c.video_title || "video") + "” from " + label);
      var head = el("span", "cite-head");
      head.appendChild(el("span", "cite-n", n));
      head.appendChild(el("span", "cite-title", c.video_title || "Video"));
      head.appendChild(el("span", "cite-time", "▶ " + label));
      btn.appendChild(head);
      btn.appendChild(el("span", "cite-quote", c.quote || ""));
      li.appendChild(btn);
      list.appendChild(li);
    });
    return list;
  }

  function renderUncovered(article, html) {
    article.className = "msg msg-assistant msg-uncovered";
    article.textContent = "";
    var bubble = el("div", "msg-bubble");
    bubble.appendChild(el("p", "msg-uncovered-title", "The videos don't cover this"));
    var body = el("div", "prose");
    body.innerHTML = html || ""; // server-sanitised HTML
    // The heading already says it; show the answer only if it says more.
    var said = body.textContent.trim().replace(/[.!]+$/, "").toLowerCase();
    if (said && said !== "the videos don't cover this") bubble.appendChild(body);
    bubble.appendChild(
      el("p", "muted small", "Try asking in other words, or about a topic from the lectures.")
    );
    article.appendChild(bubble);
  }

  function renderError(article, message) {
    article.className = "msg msg-assistant msg-error";
    article.removeAttribute("aria-busy");
    article.textContent = "";
    var bubble = el("div", "msg-bubble");
    bubble.setAttribute("role", "alert");
    bubble.appendChild(el("p", "msg-error-title", "Sorry, that didn't work"));
    bubble.appendChild(el("p", "", message || "Something went wrong. Please try again."));
    bubble.appendChild(el("p", "muted small", "Your question is still in the box below: send it again when you're ready."));
    article.appendChild(bubble);
  }

  /** Turn "[n]" in an answer's text into buttons that play citation n. */
  function linkMarkers(article) {
    var bubble = article.querySelector(".msg-bubble");
    if (!bubble) return;
    var numbers = {};
    article.querySelectorAll(".cite-card").forEach(function (card) {
      numbers[card.dataset.n] = true;
    });
    var walker = document.createTreeWalker(bubble, NodeFilter.SHOW_TEXT, {
      acceptNode: function (node) {
        if (node.parentElement && node.parentElement.closest("code, pre, a, button")) {
          return NodeFilter.FILTER_REJECT;
        }
        return /\[\d+\]/.test(node.nodeValue) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP;
      },
    });
    var nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach(function (node) {
      var parts = node.nodeValue.split(/(\[\d+\])/);
      var frag = document.createDocumentFragment();
      parts.forEach(function (part) {
        var m = /^\[(\d+)\]$/.exec(part);
        if (m && numbers[m[1]]) {
          var btn = el("button", "cite-marker", m[1]);
          btn.type = "button";
          btn.dataset.n = m[1];
          btn.setAttribute("aria-label", "Play source " + m[1]);
          frag.appendChild(btn);
        } else if (part) {
          frag.appendChild(document.createTextNode(part));
        }
      });
      node.parentNode.replaceChild(frag, node);
    });
  }

  // ---- server-sent events from a fetch body -------------------------------------------
  function parseEvent(block) {
    var name = "message";
    var data = [];
    block.split("\n").forEach(function (line) {
      if (!line || line.charAt(0) === ":") return;
      var idx = line.indexOf(":");
      var field = idx === -1 ? line : line.slice(0, idx);
      var value = idx === -1 ? "" : line.slice(idx + 1);
      if (value.charAt(0) === " ") value = value.slice(1);
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    });
    if (!data.length) return null;
    var payload;
    try {
      payload = JSON.parse(data.join("\n"));
    } catch (e) {
      payload = { text: data.join("\n") };
    }
    if (payload && typeof payload === "object" && !payload.event) payload.event = name;
    return payload;
  }

  async function readEvents(body, onEvent) {
    var reader = body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
      var sep;
      while ((sep = buffer.indexOf("\n\n")) !== -1) {
        var block = buffer.slice(0, sep);
        buffer = buffer.slice(sep + 2);
        var ev = parseEvent(block);
        if (ev) onEvent(ev);
      }
    }
    buffer += decoder.decode();
    if (buffer.trim()) {
      var last = parseEvent(buffer.replace(/\r\n?/g, "\n"));
      if (last) onEvent(last);
    }
  }

  function ChatError(message) {
    this.message = message;
  }

  async function errorFromResponse(resp) {
    if (resp.status === 403 || resp.status === 401) {
      return "Your sign-in has expired. Reload the page and sign in again.";
    }
    var text = "";
    try {
      text = await resp.text();
      var data = JSON.parse(text);
      if (typeof data === "string") return data;
      if (data.detail) return String(data.detail);
      if (data.message && typeof data.message === "string") return data.message;
      if (data.error) return String(data.error);
      var parts = [];
      Object.keys(data).forEach(function (key) {
        var v = data[key];
        parts.push(Array.isArray(v) ? v.join(" ") : String(v));
      });
      if (parts.length) return parts.join(" ");
    } catch (e) {
      /* not JSON */
    }
    if (resp.status >= 500) return "Chronos couldn't answer just now (server error). Please try again in a moment.";
    return text && text.length < 300 ? text : "The question couldn't be sent (" + resp.status + ").";
  }

  // ---- sessions ------------------------------------------------------------------------
  function refreshSessions() {
    if (!window.htmx) return;
    var url = app.dataset.sessionsUrl + "?current=" + encodeURIComponent(state.sessionId || "");
    var search = document.querySelector(".chat-search");
    if (search && search.value) url += "&q=" + encodeURIComponent(search.value);
    window.htmx.ajax("GET", url, { target: "#session-list", swap: "innerHTML" });
  }

  function adoptSession(id, title) {
    if (!id) return;
    var isNew = String(id) !== String(state.sessionId);
    state.sessionId = String(id);
    app.dataset.sessionId = state.sessionId;
    if (currentField) currentField.value = state.sessionId;
    if (title) {
      titleEl.textContent = title;
      document.title = title + " · Chronos";
    }
    if (isNew) {
      var head = document.querySelector(".chat-head");
      if (head && !head.querySelector(".chat-head-actions")) {
        var actions = el("div", "chat-head-actions");
        var link = el("a", "btn btn-secondary btn-small", "Export");
        link.href = app.dataset.exportUrl.replace("/chat/0/", "/chat/" + id + "/") + "?format=md";
        link.setAttribute("download", "");
        actions.appendChild(link);
        head.appendChild(actions);
      }
      var url = sessionUrl(id);
      if (window.location.pathname !== url) window.history.replaceState({}, "", url);
      refreshSessions();
    }
  }

  // ---- asking ----------------------------------------------------------------------------
  function setStreaming(on) {
    state.streaming = on;
    input.disabled = on;
    sendBtn.disabled = on;
    form.setAttribute("aria-busy", on ? "true" : "false");
    sendBtn.textContent = on ? "Answering…" : "Send";
  }

  async function ask(question) {
    question = (question || "").trim();
    if (!question || state.streaming) return;
    removeWelcome();
    var userArticle = appendUser(question);
    input.value = "";
    autosize();
    setStreaming(true);
    var pending = appendPending();
    var finished = false;
    var citations = [];

    function onEvent(ev) {
      switch (ev.event) {
        case "session":
          adoptSession(ev.session_id, ev.title);
          break;
        case "delta":
          if (!pending.text) {
            pending.typing.remove();
            pending.text = document.createTextNode("");
            pending.bubble.appendChild(pending.text);
          }
          var stick = nearBottom();
          pending.text.appendData(ev.text || ""); // text, never HTML
          if (stick) scrollToBottom(true);
          break;
        case "citations":
          citations = ev.citations || [];
          var old = pending.article.querySelector(".cites");
          if (old) old.remove();
          if (citations.length) pending.article.appendChild(buildCards(citations));
          break;
        case "done":
          finished = true;
          pending.article.removeAttribute("aria-busy");
          pending.article.classList.remove("is-streaming");
          if (ev.covered === false) {
            renderUncovered(pending.article, ev.answer_html);
          } else {
            pending.bubble.innerHTML = ev.answer_html || ""; // server-sanitised HTML
            linkMarkers(pending.article);
          }
          if (ev.message_id) pending.article.dataset.messageId = ev.message_id;
          refreshSessions();
          break;
        case "error":
          throw new ChatError(ev.message || "Something went wrong while answering.");
      }
    }

    try {
      var resp = await fetch(app.dataset.apiUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "text/event-stream",
          "X-CSRFToken": app.dataset.csrf,
        },
        body: JSON.stringify({
          message: question,
          session_id: state.sessionId ? Number(state.sessionId) : null,
          creator: app.dataset.creator,
          stream: true,
        }),
      });
      if (!resp.ok) throw new ChatError(await errorFromResponse(resp));
      var type = resp.headers.get("Content-Type") || "";
      if (type.indexOf("text/event-stream") === -1) {
        // A plain JSON answer (e.g. a server that does not stream): show it whole.
        var data = await resp.json();
        adoptSession(data.session_id, data.title);
        onEvent({ event: "citations", citations: data.citations || [] });
        onEvent({
          event: "done",
          message_id: data.message_id,
          answer_html: data.answer_html,
          covered: data.covered,
        });
      } else {
        await readEvents(resp.body, onEvent);
      }
      if (!finished) throw new ChatError("The answer was cut off. Please try again.");
    } catch (err) {
      var message =
        err instanceof ChatError
          ? err.message
          : "Couldn't reach Chronos. Check your connection and try again.";
      renderError(pending.article, message);
      userArticle.classList.add("msg-failed");
      input.value = question; // keep the question
    } finally {
      setStreaming(false);
      autosize();
      scrollToBottom(true);
      input.focus();
    }
  }

  // ---- player ----------------------------------------------------------------------------
  function seekAndPlay(start) {
    try {
      player.currentTime = start;
    } catch (e) {
      /* not seekable yet */
    }
    var p = player.play();
    if (p && p.catch) p.catch(function () {});
  }

  function playCard(card) {
    var src = card.dataset.src;
    if (!src) return;
    var start = parseFloat(card.dataset.start) || 0;
    var videoId = card.dataset.videoId;
    app.classList.add("has-video");
    player.classList.remove("hidden");
    if (playerEmpty) playerEmpty.classList.add("hidden");
    playerMeta.textContent = "";
    playerMeta.appendChild(el("strong", "", card.dataset.title || "Video"));
    playerMeta.appendChild(document.createTextNode(" · from " + (card.dataset.label || formatTime(start))));

    document.querySelectorAll(".cite-card.is-playing").forEach(function (c) {
      c.classList.remove("is-playing");
    });
    card.classList.add("is-playing");

    if (player.dataset.videoId === String(videoId) && player.readyState >= 1) {
      seekAndPlay(start); // same video: just seek
    } else {
      player.dataset.videoId = String(videoId);
      player.addEventListener(
        "loadedmetadata",
        function () {
          seekAndPlay(start);
        },
        { once: true }
      );
      player.src = src;
      player.load();
      var p = player.play(); // inside the click, so autoplay rules allow it
      if (p && p.catch) p.catch(function () {});
    }
    if (window.matchMedia("(max-width: 1099px)").matches) {
      document.getElementById("chat-player").scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
  }

  function closePlayer() {
    player.pause();
    app.classList.remove("has-video");
    player.classList.add("hidden");
    if (playerEmpty) playerEmpty.classList.remove("hidden");
    playerMeta.textContent = "";
    document.querySelectorAll(".cite-card.is-playing").forEach(function (c) {
      c.classList.remove("is-playing");
    });
  }

  // ---- drawer (session list on small screens) ---------------------------------------
  var drawerOpenBtn = document.querySelector(".chat-drawer-open");
  var backdrop = document.querySelector(".chat-backdrop");

  function setDrawer(open) {
    app.classList.toggle("drawer-open", open);
    if (drawerOpenBtn) drawerOpenBtn.setAttribute("aria-expanded", open ? "true" : "false");
    if (backdrop) backdrop.hidden = !open;
    if (open) {
      var search = document.querySelector(".chat-search");
      if (search) search.focus();
    } else if (drawerOpenBtn && document.activeElement && document.getElementById("chat-sidebar").contains(document.activeElement)) {
      drawerOpenBtn.focus();
    }
  }

  // ---- wiring ------------------------------------------------------------------------------
  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 200) + "px";
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    ask(input.value);
  });

  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      ask(input.value);
    }
  });
  input.addEventListener("input", autosize);

  document.addEventListener("click", function (e) {
    var target = e.target.closest ? e.target : e.target.parentElement;
    // A click elsewhere closes an open conversation menu.
    document.querySelectorAll(".chat-session-menu[open]").forEach(function (menu) {
      if (!menu.contains(target)) menu.removeAttribute("open");
    });
    var card = target.closest(".cite-card");
    if (card) {
      playCard(card);
      return;
    }
    var marker = target.closest(".cite-marker");
    if (marker) {
      var article = marker.closest(".msg");
      var match = article && article.querySelector('.cite-card[data-n="' + marker.dataset.n + '"]');
      if (match) playCard(match);
      return;
    }
    var starter = target.closest(".chat-starter");
    if (starter) {
      ask(starter.dataset.question);
      return;
    }
    if (target.closest("#player-close")) {
      closePlayer();
      return;
    }
    if (target.closest(".chat-drawer-open")) {
      setDrawer(!app.classList.contains("drawer-open"));
      return;
    }
    if (target.closest("[data-drawer-close]")) setDrawer(false);
  });

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var menu = document.querySelector(".chat-session-menu[open]");
    if (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    } else if (app.classList.contains("drawer-open")) {
      setDrawer(false);
    }
  });

  // Server-rendered history: link its [n] markers and start at the latest message.
  log.querySelectorAll(".msg-assistant").forEach(linkMarkers);
  scrollToBottom(true);
  if (!input.disabled && !("ontouchstart" in window)) input.focus();
})();
