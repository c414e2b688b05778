// @mentions in a post's textarea: after "@" and a letter or more, the people
// who may read the thread (or the board) are offered in a listbox under it.
// No inline scripts (CSP). Without JavaScript nothing happens: people type
// @**Full Name** by hand and the server resolves it.
//
// Markup: <textarea data-mentions="/threads/12/mentions">. The server answers
// GET <url>?q=<text> with <ul role="listbox" data-status="..."> of
// <li role="option" data-mention="@**Full Name|id**">. The textarea stays a
// textbox; it points at the listbox (aria-controls, aria-expanded) and at the
// active option (aria-activedescendant). ArrowDown/ArrowUp move, Enter or Tab
// insert, Escape closes; a click inserts too.
(function () {
  "use strict";
  if (window.collabMentions) return; // the script is included by several templates
  window.collabMentions = true;

  var DELAY = 150; // ms of quiet typing before asking
  // "@" at the start or after a space or bracket, then a letter and at most
  // three words: what is being typed at the caret.
  var TRIGGER = /(?:^|[\s(\[])@(\p{L}[\p{L}\p{M}'’.\-]*(?: [\p{L}\p{M}'’.\-]*){0,2})$/u;
  var open = null; // {area, box, list, start, active}
  var timer = null;
  var asked = 0; // the latest request: older answers are dropped
  var dismissed = null; // {area, start}: Escape closed this "@" for good

  function typed(area) {
    if (area.selectionStart !== area.selectionEnd) return null;
    var before = area.value.slice(0, area.selectionStart);
    var match = TRIGGER.exec(before);
    if (!match) return null;
    return { start: before.length - match[1].length - 1, query: match[1] };
  }

  function container(area) {
    var id = (area.id || "post-body") + "-mentions";
    var box = document.getElementById(id + "-box");
    if (!box) {
      box = document.createElement("div");
      box.id = id + "-box";
      box.className = "mention-box";
      box.hidden = true;
      var status = document.createElement("div");
      status.className = "visually-hidden";
      status.setAttribute("role", "status");
      status.setAttribute("data-mention-status", "");
      box.appendChild(status);
      area.insertAdjacentElement("afterend", box);
      area.setAttribute("aria-autocomplete", "list");
    }
    return box;
  }

  function options() {
    return open ? Array.prototype.slice.call(open.list.querySelectorAll("[data-mention]")) : [];
  }

  function activate(index) {
    var all = options();
    if (!open || !all.length) return;
    open.active = (index + all.length) % all.length;
    all.forEach(function (option, i) {
      var on = i === open.active;
      option.setAttribute("aria-selected", on ? "true" : "false");
      option.classList.toggle("active", on);
      if (on) {
        open.area.setAttribute("aria-activedescendant", option.id);
        option.scrollIntoView({ block: "nearest" });
      }
    });
  }

  function close() {
    if (!open) return;
    open.box.hidden = true;
    if (open.list) open.list.remove();
    open.area.setAttribute("aria-expanded", "false");
    open.area.removeAttribute("aria-activedescendant");
    open = null;
  }

  function show(area, start, html) {
    var box = container(area);
    var holder = document.createElement("template");
    holder.innerHTML = html;
    var list = holder.content.querySelector("[role=listbox]");
    var status = box.querySelector("[data-mention-status]");
    if (open && open.list) open.list.remove();
    if (!list || !list.querySelector("[data-mention]")) {
      if (status && list) status.textContent = list.getAttribute("data-status") || "";
      if (open) close();
      return;
    }
    list.id = box.id.replace(/-box$/, "");
    Array.prototype.forEach.call(list.querySelectorAll("[data-mention]"), function (option) {
      option.id = list.id + "-" + option.getAttribute("data-person-id");
    });
    box.appendChild(list);
    box.hidden = false;
    open = { area: area, box: box, list: list, start: start, active: 0 };
    area.setAttribute("aria-controls", list.id);
    area.setAttribute("aria-expanded", "true");
    if (status) status.textContent = list.getAttribute("data-status") || "";
    activate(0);
  }

  function ask(area) {
    var found = typed(area);
    if (!found || (dismissed && dismissed.area === area && dismissed.start === found.start)) {
      close();
      return;
    }
    var number = ++asked;
    var url = area.getAttribute("data-mentions") + "?q=" + encodeURIComponent(found.query);
    fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.text() : "";
      })
      .then(function (html) {
        // Only the latest answer, and only while the caret is still there.
        if (number !== asked || document.activeElement !== area) return;
        var now = typed(area);
        if (!now || now.start !== found.start) return close();
        show(area, found.start, html);
      })
      .catch(function () {
        if (number === asked) close();
      });
  }

  function choose(option) {
    if (!open || !option) return;
    var area = open.area;
    var text = option.getAttribute("data-mention") + " ";
    var end = area.selectionStart;
    area.setRangeText(text, open.start, end, "end");
    close();
    area.focus();
  }

  document.addEventListener("input", function (event) {
    var area = event.target;
    if (!(area instanceof HTMLTextAreaElement) || !area.hasAttribute("data-mentions")) return;
    if (dismissed && dismissed.area === area) {
      var now = typed(area);
      if (!now || now.start !== dismissed.start) dismissed = null;
    }
    clearTimeout(timer);
    if (!typed(area)) {
      if (open && open.area === area) close();
      return;
    }
    timer = setTimeout(function () {
      ask(area);
    }, DELAY);
  });

  document.addEventListener("keydown", function (event) {
    if (!open || event.target !== open.area) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      activate(open.active + (event.key === "ArrowDown" ? 1 : -1));
    } else if (event.key === "Enter" || event.key === "Tab") {
      if (event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      choose(options()[open.active]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      dismissed = { area: open.area, start: open.start };
      close();
    }
  });

  // mousedown, not click: the textarea keeps the focus (and its caret).
  document.addEventListener("mousedown", function (event) {
    if (!open) return;
    var option = event.target.closest ? event.target.closest("[data-mention]") : null;
    if (option && open.list.contains(option)) {
      event.preventDefault();
      choose(option);
    } else if (event.target !== open.area) {
      close();
    }
  });

  document.addEventListener("focusout", function (event) {
    if (open && event.target === open.area) {
      setTimeout(function () {
        if (open && document.activeElement !== open.area) close();
      }, 0);
    }
  });

  // A form swapped by htmx (after a reply) takes the textarea away: forget it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (open && target && target.contains(open.area)) {
      clearTimeout(timer);
      close();
    }
  });
})();
