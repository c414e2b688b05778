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

  function parse(el, name) {
    try {
      return JSON.parse(el.getAttribute(name) || "{}");
    } catch (e) {
      return {};
    }
  }

  // The page's topics, and the user's own one (data-own: the bell's), which
  // is followed and caught up like the others.
  function topics(el) {
    var all = parse(el, "data-topics");
    var own = parse(el, "data-own");
    Object.keys(own).forEach(function (topic) {
      if (!(topic in all)) { all[topic] = own[topic]; }
    });
    return all;
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
      if (!existing) { return false; }
      var typed = typedIn(existing);
      swap(existing, html, "outerHTML");
      var fresh = document.getElementById(id);
      if (fresh && typed) { putBack(fresh, typed); }
      return true;
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
      // What we missed cannot be sent (older than the server keeps, or it
      // could not be rendered): take this page's content afresh.
      refresh(el);
      return;
    }
    var topic = head.getAttribute("data-topic");
    var seq = parseInt(head.getAttribute("data-seq"), 10);
    // The user's own topic keeps its seq in data-own, the page's in data-topics.
    var attribute = topic in parse(el, "data-own") ? "data-own" : "data-topics";
    var known = parse(el, attribute);
    if (!topic || !(topic in known) || (known[topic] !== null && seq <= known[topic])) {
      return; // already applied (replayed after a reconnect, or in the page)
    }
    known[topic] = seq;
    el.setAttribute(attribute, JSON.stringify(known));
    var shown = false;
    for (var i = 1; i < parts.length; i++) {
      shown = applyOp(parts[i]) || shown;
    }
    if (shown) { announce(head.getAttribute("data-announce")); }
  }

  // -- What the person is typing survives a region's new copy ---------------
  //
  // A region redrawn by a frame (someone checks in, a vote opens) would take
  // with it what the person was typing in one of its forms: the chair's
  // motion, half written. The values typed in its fields (text, choices,
  // ticks: never hidden ones, which the new copy has right) are put into the
  // same fields of the new copy, the focus and the cursor too.
  function editable(field) {
    return field.name && field.type !== "hidden" && field.type !== "submit" &&
      field.type !== "button" && field.type !== "file";
  }

  function typedIn(root) {
    var forms = formsByKey(root);
    var found = null;
    Object.keys(forms).forEach(function (key) {
      var fields = Array.prototype.filter.call(forms[key].elements, editable);
      var changed = fields.some(function (f) {
        if (f.type === "checkbox" || f.type === "radio") { return f.checked !== f.defaultChecked; }
        if (f.tagName === "SELECT") {
          return Array.prototype.some.call(f.options, function (o) {
            return o.selected !== o.defaultSelected;
          });
        }
        return f.value !== f.defaultValue;
      });
      if (!changed) { return; }
      found = found || { forms: {}, focus: null };
      found.forms[key] = fields.map(function (f) {
        return {
          name: f.name, type: f.type, value: f.value, checked: f.checked,
          focused: f === document.activeElement,
          selection: f === document.activeElement && "selectionStart" in f
            ? [f.selectionStart, f.selectionEnd] : null
        };
      });
    });
    return found;
  }

  function putBack(root, typed) {
    var forms = formsByKey(root);
    Object.keys(typed.forms).forEach(function (key) {
      var form = forms[key];
      if (!form) { return; }
      var fresh = Array.prototype.filter.call(form.elements, editable);
      typed.forms[key].forEach(function (was) {
        var field = fresh.filter(function (f) {
          return f.name === was.name && f.type === was.type &&
            (was.type !== "checkbox" && was.type !== "radio" || f.value === was.value);
        })[0];
        if (!field) { return; }
        if (was.type === "checkbox" || was.type === "radio") {
          field.checked = was.checked;
        } else {
          field.value = was.value;
        }
        if (was.focused) {
          field.focus();
          if (was.selection) {
            try { field.setSelectionRange(was.selection[0], was.selection[1]); } catch (e) { /* not a text field */ }
          }
        }
      });
    });
  }

  // The same for a region a response swaps out of band (the chair gives the
  // floor: the response redraws the vote region too, where the motion is
  // being typed). The form the person submitted is its response's own
  // target, never out of band: what they sent is not put back.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var old = event.detail.target;
    if (old && old.id) { event.detail.typed = { id: old.id, values: typedIn(old) }; }
  });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var kept = event.detail.typed;
    if (!kept || !kept.values) { return; }
    var fresh = document.getElementById(kept.id);
    if (fresh) { putBack(fresh, kept.values); }
    kept.values = null;  // once, however many elements the swap added
  });

  // -- A reset: the page's content afresh, in place -------------------------
  //
  // The page is fetched again and its body (main and aside) put in place of
  // ours; the socket stays (our #live element is kept), so do the forms the
  // person is using: a form with something typed, a file chosen or the focus
  // is kept as it is, in place of its fresh copy. Frames that arrive during
  // the fetch wait and are applied after it (those the fresh page already
  // shows are skipped by seq). When the page cannot be refreshed that way
  // (an error, a redirect: the session ended), it is reloaded.
  var refreshing = false;
  var again = false;
  var waiting = [];

  function isDirty(form) {
    if (form.contains(document.activeElement)) { return true; }
    var fields = form.elements;
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "hidden" || f.type === "submit" || f.type === "button") { continue; }
      if (f.type === "file" && f.files && f.files.length) { return true; }
      if ((f.type === "checkbox" || f.type === "radio") && f.checked !== f.defaultChecked) {
        return true;
      }
      if (f.tagName === "SELECT") {
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].selected !== f.options[j].defaultSelected) { return true; }
        }
      } else if ("defaultValue" in f && f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }

  // Where a form of the page is found again in a fresh copy: by id, or by
  // its action and its rank among the forms with that action.
  function formKey(form, all) {
    if (form.id) { return "#" + form.id; }
    var action = form.getAttribute("action") || form.getAttribute("hx-post") || "";
    var rank = 0;
    for (var i = 0; i < all.length && all[i] !== form; i++) {
      if ((all[i].getAttribute("action") || all[i].getAttribute("hx-post") || "") === action) {
        rank++;
      }
    }
    return action + "@" + rank;
  }

  function formsByKey(root) {
    var all = Array.prototype.slice.call(root.querySelectorAll("form"));
    var byKey = {};
    all.forEach(function (form) { byKey[formKey(form, all)] = form; });
    return byKey;
  }

  function refresh(el) {
    if (refreshing) { again = true; return; }
    refreshing = true;
    again = false;
    var body = document.querySelector(".page-body");
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Error("not this page"); }
        return response.text();
      })
      .then(function (html) {
        // Not under a press or a request's answer (see "A frame waits" below).
        return quiet(body).then(function () { return html; });
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var freshBody = fresh.querySelector(".page-body");
        var freshLive = fresh.getElementById("live");
        if (!body || !freshBody || !freshLive) { throw new Error("not this page"); }
        var focused = document.activeElement;
        var selection = focused && "selectionStart" in focused
          ? [focused.selectionStart, focused.selectionEnd] : null;
        var kept = {};
        var ours = formsByKey(body);
        Object.keys(ours).forEach(function (key) {
          if (isDirty(ours[key])) { kept[key] = ours[key]; }
        });
        var theirs = formsByKey(freshBody);
        Object.keys(kept).forEach(function (key) {
          if (theirs[key]) { theirs[key].replaceWith(kept[key]); }
        });
        // Our #live goes where the fresh one was, once htmx has processed the
        // new content: processed again, its ws extension would open a second
        // socket.
        var slot = document.createComment("live");
        freshLive.replaceWith(slot);
        el.setAttribute("data-topics", freshLive.getAttribute("data-topics") || "{}");
        el.setAttribute("data-own", freshLive.getAttribute("data-own") || "{}");
        el.remove();
        body.replaceChildren.apply(body, Array.prototype.slice.call(freshBody.childNodes));
        // The header's bell is outside the page body: take its fresh copy too.
        var bell = document.getElementById("notif-bell");
        var freshBell = fresh.getElementById("notif-bell");
        if (bell && freshBell) { bell.replaceWith(freshBell); }
        if (window.htmx) { window.htmx.process(body); }
        slot.replaceWith(el);
        if (focused && document.contains(focused)) {
          focused.focus();
          if (selection) {
            try { focused.setSelectionRange(selection[0], selection[1]); } catch (e) { /* no range */ }
          }
        }
      })
      .then(function () {
        refreshing = false;
        drain();
        if (again) { refresh(el); }
      })
      .catch(function () {
        window.location.reload();
      });
  }

  // -- A frame waits for a click, and for the answer of a request ----------
  //
  // A frame replaces a region whole. One that lands between the press of a
  // button and the click takes the button away from under the pointer: the
  // browser gives the click to no form, and the check-in, the ballot or the
  // motion is simply not sent (a person's click lasts a tenth of a second,
  // while the others of the meeting check in and vote). One that replaces
  // the region an htmx request came from, while its answer is on the way,
  // leaves htmx a detached element to swap the answer (or its error) into:
  // it is lost. So frames wait in `waiting` while a button is pressed (the
  // pointer, or the space bar on a button: until the click has been
  // dispatched) and, when they would replace what a request in flight came
  // from or answers into, until its answer is in. Then they are applied in
  // order, after it: the page still ends as the newest frame shows it. Both
  // waits are bounded (a press held down, a long upload).
  var PRESS_MAX_MS = 3000;
  var TAP_MS = 300; // a tap's click follows the release of the touch
  var REQUEST_MAX_MS = 10000;
  var LOOK_MS = 200; // frames waiting look again this often
  var pressing = false;
  var pressTimer = null;
  var requests = []; // { detail: an htmx request's event detail, since: ms }
  var looking = null;

  function press() {
    pressing = true;
    window.clearTimeout(pressTimer);
    pressTimer = window.setTimeout(release, PRESS_MAX_MS);
  }

  // After `ms`: a timer set during the click's dispatch runs once the click
  // (and the form submission it makes) is done.
  function releaseIn(ms) {
    if (!pressing) { return; }
    window.clearTimeout(pressTimer);
    pressTimer = window.setTimeout(release, ms);
  }

  function release() {
    pressing = false;
    window.clearTimeout(pressTimer);
    pressTimer = null;
    drain();
  }

  function inFlight() {
    var now = Date.now();
    requests = requests.filter(function (r) {
      return r.detail.xhr && r.detail.xhr.readyState !== 4 && now - r.since < REQUEST_MAX_MS;
    });
    return requests;
  }

  // Whether `node` holds what a request in flight came from or answers into.
  function answering(node) {
    return inFlight().some(function (r) {
      var d = r.detail;
      return Boolean((d.elt && node.contains(d.elt)) || (d.target && node.contains(d.target)));
    });
  }

  function mustWait(frame) {
    if (pressing) { return true; }
    if (!inFlight().length) { return false; }
    var holder = document.createElement("template");
    holder.innerHTML = frame;
    var parts = holder.content.children;
    for (var i = 1; i < parts.length; i++) {
      var id = parts[i].getAttribute("data-id");
      var node = id ? document.getElementById(id) : null;
      if (node && answering(node)) { return true; }
    }
    return false;
  }

  // Apply the frames that waited, in order, as far as they may go now.
  function drain() {
    window.clearTimeout(looking);
    looking = null;
    var el = liveElement();
    while (el && waiting.length && !refreshing) {
      if (mustWait(waiting[0])) {
        // The release and the answer call again; this look is for a
        // request whose end we do not hear of (its element went).
        looking = window.setTimeout(drain, LOOK_MS);
        return;
      }
      apply(el, waiting.shift());
    }
  }

  // A promise kept once nothing is pressed nor answered into under `root`.
  function quiet(root) {
    return new Promise(function (resolve) {
      (function look() {
        if (pressing || (root && answering(root))) {
          window.setTimeout(look, LOOK_MS);
          return;
        }
        resolve();
      })();
    });
  }

  document.addEventListener("pointerdown", press, true);
  document.addEventListener("pointerup", function (event) {
    releaseIn(event.pointerType === "mouse" ? 0 : TAP_MS);
  }, true);
  document.addEventListener("pointercancel", function () { releaseIn(0); }, true);
  document.addEventListener("click", function () { releaseIn(0); }, true);
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === " " && target && target.closest &&
        target.closest("button, input[type=submit], input[type=button], [role=button]")) {
      press();
    }
  }, true);
  document.addEventListener("keyup", function (event) {
    if (event.key === " ") { releaseIn(0); }
  }, true);
  window.addEventListener("blur", function () { releaseIn(0); });
  document.addEventListener("htmx:beforeSend", function (event) {
    inFlight().push({ detail: event.detail, since: Date.now() }); // the ended ones go
  });
  document.addEventListener("htmx:afterRequest", function () {
    window.setTimeout(drain, 0); // once htmx has swapped the answer in
  });

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
    if (refreshing || waiting.length || mustWait(event.detail.message)) {
      // Applied once the fresh content is in, the click done or the answer in.
      waiting.push(event.detail.message);
      if (!refreshing) { drain(); }
      return;
    }
    apply(el, event.detail.message);
  });
})();
