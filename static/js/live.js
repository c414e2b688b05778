// Live updates: the page's websocket (htmx ws extension, see _macros.html `live`)
// carries frames of <template> elements rendered by collab/realtime/render.py:
//   <template data-topic="thread:12" data-seq="46" data-announce="..."></template>
//   <template data-op="append|place|replace" data-target="#posts" data-id="post-80">…</template>
// On every (re)connect we subscribe with the last seq seen per topic, so the
// server replays exactly what was missed. Frames are applied idempotently:
// an element whose id is already in the page is replaced, never added twice.
(function () {
  "use strict";

  function liveElement() {
    return document.getElementById("live");
  }

  function topics(el) {
    try {
      return JSON.parse(el.getAttribute("data-topics") || "{}");
    } catch (e) {
      return {};
    }
  }

  function announce(text) {
    var region = document.getElementById("live-announcer");
    if (region && text) {
      region.textContent = "";
      // A fresh text node after a tick makes screen readers read it again.
      window.setTimeout(function () { region.textContent = text; }, 50);
    }
  }

  function swap(target, html, style) {
    if (window.htmx && window.htmx.swap) {
      window.htmx.swap(target, html, { swapStyle: style });
    } else if (style === "outerHTML") {
      target.outerHTML = html;
    } else {
      target.insertAdjacentHTML(style === "afterbegin" ? "afterbegin" : "beforeend", html);
    }
  }

  // A list kept in order (data-live-sort="activity" or "pinned activity"):
  // rows carry data-activity (ms) and data-pinned; newest first, pinned
  // before the rest, ties by id, as the server sorts them.
  function rowKey(node, byPinned) {
    return [
      byPinned && node.hasAttribute("data-pinned") ? 1 : 0,
      parseInt(node.getAttribute("data-activity") || "0", 10),
      parseInt((node.id || "").replace(/\D+/g, "") || "0", 10)
    ];
  }

  function sortsBefore(a, b) {
    for (var i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) { return a[i] > b[i]; }
    }
    return false;
  }

  function place(target, existing, html) {
    var sort = target ? target.getAttribute("data-live-sort") : null;
    if (!sort) {
      // Not kept in order on this page (a later page of a list): update only.
      if (existing) { swap(existing, html, "outerHTML"); }
      return Boolean(existing);
    }
    var holder = document.createElement("template");
    holder.innerHTML = html.trim();
    var node = holder.content.firstElementChild;
    if (!node) { return false; }
    if (existing) { existing.remove(); }
    var byPinned = sort.indexOf("pinned") !== -1;
    var key = rowKey(node, byPinned);
    var next = null;
    for (var child = target.firstElementChild; child; child = child.nextElementSibling) {
      if (sortsBefore(key, rowKey(child, byPinned))) { next = child; break; }
    }
    var limit = parseInt(target.getAttribute("data-live-limit") || "0", 10);
    if (!next && limit && target.children.length >= limit) {
      return false; // its place is past the end of what this list shows
    }
    target.insertBefore(node, next);
    if (window.htmx && window.htmx.process) { window.htmx.process(node); }
    while (limit && target.children.length > limit) {
      target.removeChild(target.lastElementChild);
    }
    clearEmpty(target);
    return true;
  }

  // A list's "nothing yet" line goes once the list has a row: the line is
  // #no-threads, or any element with data-empty-for="<the list's id>".
  function clearEmpty(target) {
    var empty = document.getElementById("no-threads");
    if (empty) { empty.remove(); }
    if (target && target.id) {
      var lines = document.querySelectorAll('[data-empty-for="' + target.id + '"]');
      for (var i = 0; i < lines.length; i++) { lines[i].remove(); }
    }
  }

  function applyOp(tpl) {
    var op = tpl.getAttribute("data-op");
    var id = tpl.getAttribute("data-id");
    var html = tpl.innerHTML;
    var existing = id ? document.getElementById(id) : null;
    var target = document.querySelector(tpl.getAttribute("data-target"));
    if (op === "replace") {
      if (existing) { swap(existing, html, "outerHTML"); }
      return Boolean(existing);
    }
    if (op === "place") { return place(target, existing, html); }
    if (!target) { return false; }
    if (op === "append" && !target.hasAttribute("data-live-append")) {
      // Not the last page of the thread: the new post belongs elsewhere.
      return false;
    }
    if (existing && op === "append") {
      // Already shown (the author's own htmx response, or the page itself):
      // refresh it where it stands rather than moving it.
      swap(existing, html, "outerHTML");
      return false;
    }
    swap(target, html, "beforeend");
    clearEmpty(target);
    return true;
  }

  function apply(el, frame) {
    var holder = document.createElement("template");
    holder.innerHTML = frame;
    var parts = holder.content.children;
    if (!parts.length) { return; }
    var head = parts[0];
    if (head.hasAttribute("data-heartbeat")) { return; }
    if (head.hasAttribute("data-presence")) {
      var here = document.getElementById("presence");
      if (here && here.getAttribute("data-topic") === head.getAttribute("data-presence")) {
        here.textContent = head.getAttribute("data-label");
        here.title = head.getAttribute("data-names");
      }
      return;
    }
    if (head.hasAttribute("data-reset")) {
      // What we missed is older than the server keeps: start afresh.
      window.location.reload();
      return;
    }
    var topic = head.getAttribute("data-topic");
    var seq = parseInt(head.getAttribute("data-seq"), 10);
    var known = topics(el);
    if (!topic || !(topic in known) || (known[topic] !== null && seq <= known[topic])) {
      return; // already applied (replayed after a reconnect, or in the page)
    }
    known[topic] = seq;
    el.setAttribute("data-topics", JSON.stringify(known));
    var shown = false;
    for (var i = 1; i < parts.length; i++) {
      shown = applyOp(parts[i]) || shown;
    }
    if (shown) { announce(head.getAttribute("data-announce")); }
  }

  // The author's own htmx response and the websocket frame of the same change
  // race: when the frame got there first, the element is already in the page
  // and htmx would add it a second time (hx-swap="beforeend"). Ids are unique:
  // the copy in the response replaces the one already shown.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (!detail.shouldSwap || typeof detail.serverResponse !== "string") { return; }
    var target = detail.target;
    var holder = document.createElement("template");
    holder.innerHTML = detail.serverResponse;
    var incoming = holder.content.children;
    for (var i = 0; i < incoming.length; i++) {
      var part = incoming[i];
      var oob = part.hasAttribute("hx-swap-oob") || part.hasAttribute("data-hx-swap-oob");
      var id = part.id;
      if (!id || oob) { continue; }  // out-of-band parts replace their target anyway
      var existing = document.getElementById(id);
      // Never the element being swapped (outerHTML) or one that holds it.
      if (existing && target && !existing.contains(target)) { existing.remove(); }
    }
  });

  document.addEventListener("htmx:wsOpen", function (event) {
    var el = liveElement();
    if (!el || event.target !== el) { return; }
    event.detail.socketWrapper.sendImmediately(
      JSON.stringify({ type: "subscribe", topics: topics(el) })
    );
  });

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var el = liveElement();
    if (!el || event.target !== el) { return; }
    event.preventDefault(); // we apply frames ourselves, idempotently
    apply(el, event.detail.message);
  });
})();
