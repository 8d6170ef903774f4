// Chronos upload page: drag-drop several lecture files, each with an optional caption file
// and an editable title; each is POSTed (multipart) to the REST endpoint with its own
// progress bar (XMLHttpRequest upload.onprogress) and its own error (the server's message).
// Without JS the page's plain form (one file + captions) is used instead.
// S3 mode (data-direct-url set): each file goes straight to the bucket as a multipart
// upload (videos.uploads): Chronos signs the parts, the browser PUTs them (3 at a time,
// each retried with backoff, re-signed when its URL has expired), then asks Chronos to
// complete and verify. A file whose parts failed resumes from the parts that arrived.
(function () {
  "use strict";
  var root = document.getElementById("uploader");
  var plain = document.getElementById("plain-upload");
  if (!root || !window.FormData || !window.XMLHttpRequest) return;

  root.classList.remove("hidden");
  if (plain && plain.dataset.hasErrors !== "true") plain.classList.add("hidden");

  var apiUrl = root.dataset.apiUrl;
  var directUrl = root.dataset.directUrl || "";
  var detailUrl = root.dataset.detailUrl; // ".../videos/0/"
  var videoApiUrl = root.dataset.videoApiUrl; // "/api/v1/videos/0/"
  var POLL_MS = 4000;
  var csrf = root.dataset.csrf;
  // Handoff (videos.handoff): POST each accepted upload's id to this URL (e.g. a course
  // module's "add lesson"), once per file.
  var thenUrl = root.dataset.thenUrl || "";
  var maxBytes = parseInt(root.dataset.maxBytes, 10) || 0;
  var captionsAccept = root.dataset.captionsAccept;
  var picker = document.getElementById("picker");
  var dropzone = document.getElementById("dropzone");
  var queueEl = document.getElementById("queue");
  var actions = document.getElementById("queue-actions");
  var startBtn = document.getElementById("start-upload");
  var clearBtn = document.getElementById("clear-done");
  var notice = document.getElementById("upload-notice");
  var tpl = document.getElementById("queue-item");
  var items = [];
  var running = false;

  var CAPTION_EXT = /\.(vtt|srt)$/i;

  function stem(name) { return name.replace(/\.[^.]+$/, ""); }
  function niceTitle(name) {
    // As videos.services.title_from_filename: "intro_to-chemistry.mp4" -> "Intro to chemistry".
    var t = stem(name).replace(/[_-]+/g, " ").replace(/\s+/g, " ").trim();
    return t ? t.charAt(0).toUpperCase() + t.slice(1) : name;
  }
  function formatBytes(n) {
    var units = ["bytes", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + units[i];
  }
  function say(text) {
    notice.textContent = text;
    notice.classList.toggle("hidden", !text);
  }

  function setState(item, state, text, percent) {
    item.state = state;
    item.el.dataset.state = state;
    item.stateEl.textContent = text;
    if (percent !== undefined) {
      item.bar.style.width = percent + "%";
      item.barWrap.setAttribute("aria-valuenow", String(percent));
    }
    item.barWrap.classList.toggle("ok", state === "done");
    item.barWrap.classList.toggle("bad", state === "error");
  }

  function showError(item, message) {
    item.errorEl.textContent = message;
    item.errorEl.classList.toggle("hidden", !message);
  }

  function setCaptions(item, file) {
    item.captions = file || null;
    item.captionsName.textContent = file ? file.name : "None: speech recognition will transcribe it";
    item.captionsName.classList.toggle("muted", !file);
    item.captionsName.classList.toggle("vid-has-captions", !!file);
    item.captionsAction.textContent = file ? "Change" : "Choose captions";
    item.captionsClear.classList.toggle("hidden", !file);
    if (!file) item.captionsInput.value = "";
  }

  function refreshActions() {
    var pending = items.some(function (i) {
      return i.state === "ready" || i.state === "error" || i.state === "failed";
    });
    actions.classList.toggle("hidden", items.length === 0);
    startBtn.disabled = running || !pending;
    startBtn.textContent = running ? "Uploading…" : "Upload all";
    clearBtn.disabled = !items.some(function (i) { return i.state === "done"; });
  }

  function addMedia(file) {
    var node = tpl.content.firstElementChild.cloneNode(true);
    var item = {
      file: file, captions: null, state: "ready", el: node,
      titleInput: node.querySelector(".vid-item-title"),
      captionsInput: node.querySelector(".vid-item-captions-input"),
      captionsName: node.querySelector(".vid-item-captions-name"),
      captionsAction: node.querySelector(".vid-item-captions-action"),
      captionsClear: node.querySelector(".vid-item-captions-clear"),
      bar: node.querySelector(".progress > span"),
      barWrap: node.querySelector(".progress"),
      stateEl: node.querySelector(".vid-item-state"),
      errorEl: node.querySelector(".vid-item-error"),
    };
    var uid = "f" + Math.random().toString(36).slice(2, 9);
    node.querySelector(".vid-item-file").textContent = file.name;
    node.querySelector(".vid-item-size").textContent = formatBytes(file.size);
    node.querySelector(".vid-item-icon").textContent = /^audio\//.test(file.type) ? "♪" : "▶";
    item.titleInput.id = uid + "-title";
    node.querySelector("label").htmlFor = item.titleInput.id;
    item.captionsInput.setAttribute("aria-label", "Captions for " + file.name);
    item.captionsInput.accept = captionsAccept;
    item.titleInput.value = niceTitle(file.name);
    item.barWrap.setAttribute("aria-label", file.name + " upload progress");
    item.captionsInput.addEventListener("change", function () {
      if (item.captionsInput.files[0]) setCaptions(item, item.captionsInput.files[0]);
    });
    item.captionsClear.addEventListener("click", function () { setCaptions(item, null); });
    node.querySelector(".vid-item-remove").addEventListener("click", function () {
      if (item.xhr) item.xhr.abort();
      if (item.direct) abortDirect(item);
      items.splice(items.indexOf(item), 1);
      node.remove();
      refreshActions();
    });
    setState(item, "ready", "Ready", 0);
    if (maxBytes && file.size > maxBytes) {
      setState(item, "rejected", "Not uploaded", 0);
      showError(item, "This file is " + formatBytes(file.size) + "; your plan accepts up to " +
        formatBytes(maxBytes) + " per file.");
    } else if (file.size === 0) {
      setState(item, "rejected", "Not uploaded", 0);
      showError(item, "This file is empty (0 bytes).");
    }
    items.push(item);
    queueEl.appendChild(node);
    return item;
  }

  function addFiles(fileList) {
    var files = Array.prototype.slice.call(fileList);
    var captionFiles = files.filter(function (f) { return CAPTION_EXT.test(f.name); });
    var media = files.filter(function (f) { return !CAPTION_EXT.test(f.name); });
    media.forEach(addMedia);
    var unmatched = [];
    captionFiles.forEach(function (cf) {
      var key = stem(cf.name).replace(/\.(en|eng|english)$/i, "").toLowerCase();
      var match = items.filter(function (i) {
        return i.state === "ready" && stem(i.file.name).toLowerCase() === key;
      })[0];
      if (!match) {
        var bare = items.filter(function (i) { return i.state === "ready" && !i.captions; });
        if (bare.length === 1 && captionFiles.length === 1) match = bare[0];
      }
      if (match) setCaptions(match, cf); else unmatched.push(cf.name);
    });
    say(unmatched.length ? "No video with the same name for " + unmatched.join(", ") +
      ": choose it with the Captions picker of the right video." : "");
    refreshActions();
  }

  function errorText(xhr) {
    if (xhr.status === 0) return "The upload was interrupted (network error). Try again.";
    if (xhr.status === 413) return "The server refused a file this large.";
    if (xhr.status === 403 || xhr.status === 401) return "Your session has expired: sign in again, then retry.";
    var data = null;
    try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
    if (data && typeof data.error === "string") return data.error; // {error, code, fields}
    if (data && typeof data === "object") {
      var parts = [];
      Object.keys(data).forEach(function (key) {
        var v = data[key];
        var text = Array.isArray(v) ? v.join(" ") : String(v);
        parts.push(key === "detail" || key === "file" || key === "non_field_errors"
          ? text : key.charAt(0).toUpperCase() + key.slice(1) + ": " + text);
      });
      if (parts.length) return parts.join(" ");
    }
    return "The server could not take this file (HTTP " + xhr.status + "). Try again in a moment.";
  }

  // After the upload: follow the video's processing until it completes or fails.
  function showProcessing(item, video) {
    var text;
    if (video.status === "completed") text = "Ready · ";
    else if (video.status === "failed") text = "Processing failed" + (video.error ? ": " + video.error : "") + " · ";
    else text = "Uploaded · " + (video.stage || video.status_display || "processing") + " " + (video.progress || 0) + "% · ";
    item.stateEl.textContent = text;
    var link = document.createElement("a");
    link.href = detailUrl.replace(/\/0\/$/, "/" + video.id + "/");
    link.textContent = "open";
    item.stateEl.appendChild(link);
    if (video.status !== "completed" && video.status !== "failed") {
      window.setTimeout(function () { poll(item); }, POLL_MS);
    }
  }

  function poll(item) {
    if (!item.el.isConnected) return; // hidden by the creator
    var xhr = new XMLHttpRequest();
    xhr.open("GET", videoApiUrl.replace(/\/0\/$/, "/" + item.videoId + "/"));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      if (xhr.status === 200) showProcessing(item, JSON.parse(xhr.responseText));
      else window.setTimeout(function () { poll(item); }, POLL_MS * 3);
    };
    xhr.onerror = function () { window.setTimeout(function () { poll(item); }, POLL_MS * 3); };
    xhr.send();
  }

  function handOff(item, video) {
    if (!thenUrl || item.handedOff) return;
    item.handedOff = true;
    var body = new FormData();
    body.append("video_id", video.id);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", thenUrl);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("HX-Request", "true"); // errors come back as a 400, not a redirect
    xhr.onload = xhr.onerror = function () {
      var note = document.createElement("span");
      note.className = "small vid-handoff-state";
      note.textContent = xhr.status >= 200 && xhr.status < 300
        ? "Added to the course as a lesson"
        : "Not added to the course: add it from the module's library picker";
      item.el.querySelector(".vid-item-name").appendChild(note);
    };
    xhr.send(body);
  }

  function finished(item, video) {
    // Uploaded (either path): lock the row and follow the video's processing.
    setState(item, "done", "", 100);
    item.videoId = video.id;
    handOff(item, video);
    showProcessing(item, video);
    showError(item, "");
    item.titleInput.disabled = true;
    item.captionsInput.disabled = true;
    item.captionsClear.classList.add("hidden");
    item.el.querySelector(".vid-item-captions-pick").classList.add("hidden");
    item.el.querySelector(".vid-item-remove").textContent = "Hide";
  }

  // --- direct to the bucket (S3 mode) ---------------------------------------------------
  var PART_TRIES = 4;         // a part is sent at most this many times per round
  var PARALLEL_PARTS = 3;     // parts in flight per file
  var MAX_PART_WAIT_MS = 8000;

  function request(method, url, body, json) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      if (json) xhr.setRequestHeader("Content-Type", "application/json");
      xhr.onload = xhr.onerror = xhr.onabort = function () { resolve(xhr); };
      xhr.send(json ? JSON.stringify(body) : body);
    });
  }

  function parseJson(xhr) {
    try { return JSON.parse(xhr.responseText); } catch (e) { return null; }
  }

  function abortDirect(item) {
    (item.partXhrs || []).forEach(function (x) { x.abort(); });
    var d = item.direct;
    item.direct = null;
    if (d && d.status !== "completed") request("DELETE", d.url, null, false);
  }

  function putPart(item, part) {
    // One PUT of one part straight to the bucket; resolves with the HTTP status (0: network).
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      item.partXhrs.push(xhr);
      xhr.open("PUT", part.url);
      xhr.upload.onprogress = function (e) {
        item.loaded[part.number] = e.loaded;
        showProgress(item);
      };
      xhr.onload = xhr.onerror = xhr.onabort = function () {
        item.partXhrs.splice(item.partXhrs.indexOf(xhr), 1);
        resolve(xhr.status);
      };
      xhr.send(item.file.slice(part.start, part.end));
    });
  }

  function showProgress(item) {
    var sent = 0;
    Object.keys(item.loaded).forEach(function (k) { sent += item.loaded[k]; });
    var pct = Math.min(99, Math.floor((sent / item.file.size) * 100));
    setState(item, "uploading", "Uploading to storage… " + pct + "%", pct);
  }

  function sendPart(item, part, tries) {
    return putPart(item, part).then(function (status) {
      if (status === 200) {
        item.loaded[part.number] = part.end - part.start;
        return true;
      }
      item.loaded[part.number] = 0;
      if (!item.direct || tries + 1 >= PART_TRIES) return false;
      var wait = Math.min(MAX_PART_WAIT_MS, 1000 * Math.pow(2, tries));
      return new Promise(function (r) { setTimeout(r, wait); }).then(function () {
        if (status !== 403) return sendPart(item, part, tries + 1);
        // 403: the presigned URL expired; ask Chronos to sign this part again.
        return request("POST", item.direct.parts_url, { numbers: [part.number] }, true)
          .then(function (xhr) {
            var fresh = xhr.status === 200 && parseJson(xhr);
            return fresh ? sendPart(item, fresh.parts[0], tries + 1) : false;
          });
      });
    });
  }

  function sendParts(item, parts) {
    var queue = parts.slice(), failed = [];
    function worker() {
      var part = queue.shift();
      if (!part) return Promise.resolve();
      return sendPart(item, part, 0).then(function (ok) {
        if (!ok) failed.push(part.number);
        return worker();
      });
    }
    var workers = [];
    for (var i = 0; i < PARALLEL_PARTS; i++) workers.push(worker());
    return Promise.all(workers).then(function () { return failed; });
  }

  function startOrResume(item) {
    // A failed round resumes: only the parts the bucket does not hold are sent again.
    if (item.direct) {
      return request("GET", item.direct.url, null, false).then(function (xhr) {
        var state = xhr.status === 200 && parseJson(xhr);
        if (!state) throw xhr;
        if (state.status !== "pending") { item.direct = null; return startOrResume(item); }
        var have = {};
        item.loaded = {};
        state.parts_received.forEach(function (p) { have[p.number] = true; item.loaded[p.number] = p.size; });
        var missing = [];
        for (var n = 1; n <= state.part_count; n++) if (!have[n]) missing.push(n);
        if (!missing.length) return [];
        return request("POST", state.parts_url, { numbers: missing }, true).then(function (x) {
          var fresh = x.status === 200 && parseJson(x);
          if (!fresh) throw x;
          return fresh.parts;
        });
      });
    }
    var body = {
      filename: item.file.name, size: item.file.size,
      content_type: item.file.type || "", title: item.titleInput.value.trim(),
    };
    return request("POST", directUrl, body, true).then(function (xhr) {
      var upload = xhr.status === 201 && parseJson(xhr);
      if (!upload) throw xhr;
      item.direct = upload;
      item.loaded = {};
      return upload.parts;
    });
  }

  // After "complete": a worker checks the file's content; follow the upload until it has
  // become a video (then follow the video) or was refused (then say why).
  function waitVerified(item) {
    var upload = item.direct;
    if (!upload) return;
    return request("GET", upload.url, null, false).then(function (xhr) {
      var state = xhr.status === 200 && parseJson(xhr);
      if (!state || state.status === "verifying") {
        window.setTimeout(function () { waitVerified(item); }, state ? POLL_MS : POLL_MS * 3);
        return;
      }
      if (state.status === "completed") {
        upload.status = "completed";
        return request("GET", videoApiUrl.replace(/\/0\/$/, "/" + state.video_id + "/"), null, false)
          .then(function (v) {
            var video = v.status === 200 && parseJson(v);
            finished(item, video || { id: state.video_id, status: "pending" });
          });
      }
      item.direct = null; // refused: the next try starts afresh
      setState(item, "error", "Failed", 0);
      showError(item, state.error || "The file could not be used. Upload it again.");
    });
  }

  function sendDirect(item) {
    item.partXhrs = [];
    showError(item, "");
    setState(item, "uploading", "Uploading to storage… 0%", 0);
    return startOrResume(item).then(function (parts) {
      showProgress(item);
      return sendParts(item, parts);
    }).then(function (failed) {
      if (!item.direct) return; // removed meanwhile
      if (failed.length) {
        setState(item, "error", "Paused");
        showError(item, "The connection to storage failed for part " + failed.join(", ") +
          ". Press “Upload all” to resume: the parts already sent are kept.");
        return;
      }
      setState(item, "uploading", "Checking the file…", 99);
      var form = new FormData();
      if (item.captions) form.append("captions", item.captions, item.captions.name);
      return request("POST", item.direct.complete_url, form, false).then(function (xhr) {
        if (xhr.status === 202) return waitVerified(item); // a worker probes the file
        var video = xhr.status === 201 && parseJson(xhr);
        if (video) {
          item.direct.status = "completed";
          finished(item, video);
        } else {
          var data = parseJson(xhr);
          // Refused (missing, cut short, not media): the next try starts afresh.
          if (data && data.code !== "bad_captions") item.direct = null;
          setState(item, "error", "Failed", 0);
          showError(item, errorText(xhr));
        }
      });
    }).catch(function (xhr) {
      setState(item, "error", "Failed", 0);
      showError(item, xhr && xhr.status !== undefined ? errorText(xhr) : String(xhr));
    });
  }

  function send(item) {
    if (directUrl) return sendDirect(item);
    return new Promise(function (resolve) {
      var form = new FormData();
      form.append("file", item.file, item.file.name);
      form.append("title", item.titleInput.value.trim());
      if (item.captions) form.append("captions", item.captions, item.captions.name);
      var xhr = new XMLHttpRequest();
      item.xhr = xhr;
      xhr.open("POST", apiUrl);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (e) {
        if (!e.lengthComputable) return;
        var pct = Math.min(99, Math.round((e.loaded / e.total) * 100));
        setState(item, "uploading", "Uploading… " + pct + "%", pct);
      };
      xhr.upload.onload = function () { setState(item, "uploading", "Checking the file…", 99); };
      xhr.onload = function () {
        item.xhr = null;
        if (xhr.status === 201) {
          finished(item, JSON.parse(xhr.responseText));
        } else {
          setState(item, "error", "Failed", 0);
          showError(item, errorText(xhr));
        }
        resolve();
      };
      xhr.onerror = xhr.onabort = function () {
        item.xhr = null;
        setState(item, "error", "Failed", 0);
        showError(item, errorText(xhr));
        resolve();
      };
      showError(item, "");
      setState(item, "uploading", "Uploading… 0%", 0);
      xhr.send(form);
    });
  }

  function run() {
    if (running) return;
    running = true;
    refreshActions();
    var next = function () {
      var item = items.filter(function (i) { return i.state === "ready" || i.state === "error"; })[0];
      if (!item) { running = false; refreshActions(); return; }
      send(item).then(function () {
        if (item.state === "error") item.state = "failed"; // do not loop on it this round
        next();
      });
    };
    next();
  }

  startBtn.addEventListener("click", function () {
    items.forEach(function (i) { if (i.state === "failed") i.state = "error"; });
    run();
  });
  clearBtn.addEventListener("click", function () {
    items.filter(function (i) { return i.state === "done"; }).forEach(function (i) {
      i.el.remove(); items.splice(items.indexOf(i), 1);
    });
    refreshActions();
  });
  picker.addEventListener("change", function () { addFiles(picker.files); picker.value = ""; });

  ["dragenter", "dragover"].forEach(function (type) {
    dropzone.addEventListener(type, function (e) { e.preventDefault(); dropzone.classList.add("is-over"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    dropzone.addEventListener(type, function (e) { e.preventDefault(); dropzone.classList.remove("is-over"); });
  });
  dropzone.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) addFiles(e.dataTransfer.files);
  });
  // A file dropped beside the zone must not navigate away from the page.
  window.addEventListener("dragover", function (e) { e.preventDefault(); });
  window.addEventListener("drop", function (e) { e.preventDefault(); });
  window.addEventListener("beforeunload", function (e) {
    if (running) { e.preventDefault(); e.returnValue = ""; }
  });
  refreshActions();
})();
