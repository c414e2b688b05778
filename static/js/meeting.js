// The meeting room (templates/meetings/room.html and public.html):
// - the speaking timer: every [data-since] (an ISO instant, the grant of the
//   floor) shows the time elapsed, every second, in every browser;
// - the viewer's own controls: fragments pushed over the websocket are the
//   same for everyone of a view variant, so controls that depend on the person
//   (their raised hand, their guest registration) come both ways, and
//   [data-show-if] / [data-hide-if] (a selector where {me} is the viewer's
//   user id, from #room[data-me]) choose after every swap.
// Both work from the current DOM on each tick or change, so they keep working
// after live swaps replace the regions.
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function elapsed(since) {
    var start = Date.parse(since);
    if (isNaN(start)) { return ""; }
    var total = Math.max(0, Math.floor((Date.now() - start) / 1000));
    var h = Math.floor(total / 3600);
    var text = pad(Math.floor((total % 3600) / 60)) + ":" + pad(total % 60);
    return h ? h + ":" + text : text;
  }

  function tick() {
    var timers = document.querySelectorAll("[data-since]");
    for (var i = 0; i < timers.length; i++) {
      var text = elapsed(timers[i].getAttribute("data-since"));
      if (text && timers[i].textContent !== text) { timers[i].textContent = text; }
    }
  }

  function has(root, selector, me) {
    try {
      return Boolean(root.querySelector(selector.split("{me}").join(me)));
    } catch (e) {
      return false;
    }
  }

  function mine() {
    var root = document.getElementById("room");
    var me = root ? root.getAttribute("data-me") : "";
    if (!me) { return; }
    var shown = root.querySelectorAll("[data-show-if]");
    for (var i = 0; i < shown.length; i++) {
      shown[i].hidden = !has(root, shown[i].getAttribute("data-show-if"), me);
    }
    var hidden = root.querySelectorAll("[data-hide-if]");
    for (var j = 0; j < hidden.length; j++) {
      hidden[j].hidden = has(root, hidden[j].getAttribute("data-hide-if"), me);
    }
  }

  function start() {
    tick();
    mine();
    window.setInterval(tick, 1000);
    var root = document.getElementById("room");
    if (root && window.MutationObserver) {
      var pending = false;
      new MutationObserver(function () {
        if (pending) { return; }
        pending = true;
        window.setTimeout(function () { pending = false; mine(); tick(); }, 0);
      }).observe(root, { childList: true, subtree: true });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
