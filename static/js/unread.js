// Unread, live: what arrives while a page is open is new to its reader.
//
// live.js applies the frames of the live engine; this file only watches the
// page (a MutationObserver), so the two stay apart:
//
// - On a board (home, zone, theme), a thread row, a theme's row or a zone's
//   summary pushed live is rendered once for everyone and carries no per-user
//   count (no data-read attribute, which the server puts on what it renders
//   for this reader): it gets the "new" marker instead.
// - On a thread, a post appended live (not one's own) gets the "new" marker
//   and counts as unread until it is seen: once it has been in view, the page
//   tells the server (POST data-read-url with post=<id>, the CSRF token in
//   the X-CSRF-Token header as htmx sends it), then the marker goes.
(function () {
  "use strict";

  var marker = document.getElementById("unread-marker");
  if (!marker || !window.MutationObserver) { return; }
  var readUrl = marker.getAttribute("data-read-url");
  var SEEN_DELAY_MS = 3000; // the marker stays a moment after the post was seen
  var FLUSH_MS = 400; // posts seen together are reported together

  function badge() {
    return marker.content.firstElementChild.cloneNode(true);
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (e) {
      return "";
    }
  }

  // --- boards -------------------------------------------------------------

  var BOARD_ITEMS = ".thread-row, [id^='theme-row-'], [id^='zone-summary-']";

  function markBoardItem(node) {
    if (node.hasAttribute("data-read") || node.classList.contains("live-new")) { return; }
    node.classList.add("live-new");
    var where = node.querySelector("a") ? node.querySelector("a").parentNode : node;
    where.appendChild(document.createTextNode(" "));
    where.appendChild(badge());
  }

  // --- a thread -----------------------------------------------------------

  var known = {}; // ids of the posts the server rendered (read by that view)
  var seen = 0; // the largest post id seen and not yet reported
  var timer = null;
  var observer = null;

  function remember(root) {
    var present = root.querySelectorAll("article.post[id]");
    for (var i = 0; i < present.length; i++) { known[present[i].id] = true; }
  }
  remember(document);

  function flush() {
    timer = null;
    if (!seen || !readUrl) { return; }
    var post = seen;
    seen = 0;
    var body = new URLSearchParams();
    body.set("post", String(post));
    fetch(readUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken() },
      body: body
    }).catch(function () {
      // Offline: the next page view records it (views only move forward).
    });
  }

  function onSeen(entries) {
    for (var i = 0; i < entries.length; i++) {
      var entry = entries[i];
      if (!entry.isIntersecting) { continue; }
      var node = entry.target;
      observer.unobserve(node);
      var id = parseInt(node.getAttribute("data-post-id") || "0", 10);
      if (id > seen) { seen = id; }
      setTimeout(function (post) {
        return function () {
          post.classList.remove("live-new");
          var marks = post.querySelectorAll(".unread-live");
          for (var j = 0; j < marks.length; j++) { marks[j].remove(); }
        };
      }(node), SEEN_DELAY_MS);
    }
    if (seen && !timer) { timer = setTimeout(flush, FLUSH_MS); }
  }

  function markPost(node) {
    if (known[node.id]) { return; } // an edit or a removal, replaced in place
    known[node.id] = true;
    if (node.classList.contains("post-own")) { return; } // nobody's own post is unread
    node.classList.add("live-new");
    var meta = node.querySelector(".post-meta span") || node;
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(badge());
    if (!readUrl) { return; }
    if (!observer && window.IntersectionObserver) {
      observer = new IntersectionObserver(onSeen, { threshold: 0.5 });
    }
    if (observer) { observer.observe(node); }
  }

  // --- what arrives -------------------------------------------------------

  function arrived(node) {
    if (node.nodeType !== 1) { return; }
    var posts = document.getElementById("posts"); // a reset may have replaced it
    if (posts && node.parentNode === posts && node.matches("article.post[id]")) {
      markPost(node);
      return;
    }
    if (node.matches(BOARD_ITEMS)) { markBoardItem(node); return; }
    // A fresh page body after a reset frame: the server rendered it for this
    // reader (its posts are read, its items carry data-read): only what
    // has no data-read arrived live.
    remember(node);
    var inner = node.querySelectorAll(BOARD_ITEMS);
    for (var k = 0; k < inner.length; k++) { markBoardItem(inner[k]); }
  }

  new MutationObserver(function (mutations) {
    for (var m = 0; m < mutations.length; m++) {
      var added = mutations[m].addedNodes;
      for (var n = 0; n < added.length; n++) { arrived(added[n]); }
    }
  }).observe(document.body, { childList: true, subtree: true });
})();
