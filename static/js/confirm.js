// Confirmation before a meeting's irreversible steps (collab/meetings/confirm.py).
// A step's button is a GET form[data-confirm] to its confirmation page; here it
// opens #confirm-dialog instead, filled from the form's data-confirm-* texts,
// as a modal <dialog> (focus stays inside, Escape closes it). Focus starts on
// "Go back", the harmless choice, and returns to the button that opened it
// (or, once the step's answer replaced it, to the new one or its region).
// Confirming posts the step with confirmed=1: with htmx into the room region
// the trigger names, otherwise as a plain form (the page navigates).
(function () {
  "use strict";

  var state = { kind: "", action: "", region: "", opener: null };

  function dialog() { return document.getElementById("confirm-dialog"); }

  function refocus() {
    var target = state.opener;
    if (!target || !target.isConnected) {
      target = null;
      var triggers = document.querySelectorAll("form[data-confirm]");
      for (var i = 0; i < triggers.length; i++) {
        if (triggers[i].getAttribute("data-confirm") === state.kind &&
            triggers[i].getAttribute("action") === state.action) {
          target = triggers[i].querySelector("button");
        }
      }
    }
    if (!target && state.region) {
      target = document.getElementById(state.region);
      if (target && !target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
    }
    if (target) { target.focus(); }
  }

  function open(box, trigger, submitter) {
    state.kind = trigger.getAttribute("data-confirm");
    state.action = trigger.getAttribute("action");
    state.region = trigger.getAttribute("data-confirm-region") || "";
    state.opener = submitter || trigger.querySelector("button");
    box.querySelector("#confirm-dialog-title").textContent = trigger.getAttribute("data-confirm-title");
    box.querySelector("#confirm-dialog-text").textContent = trigger.getAttribute("data-confirm-text");
    box.querySelector("[type=submit]").textContent = trigger.getAttribute("data-confirm-label");
    box.querySelector("form").setAttribute("action", state.action);
    box.returnValue = "";
    box.showModal();
    box.querySelector("[data-confirm-cancel]").focus();
  }

  function confirmed(box, form, event) {
    if (!state.region || !window.htmx) { return; }  // a plain post
    event.preventDefault();
    box.close("confirmed");
    var sent = window.htmx.ajax("POST", state.action, {
      source: form, target: "#" + state.region, swap: "outerHTML"
    });
    if (sent && sent.then) { sent.then(refocus, refocus); }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var box = dialog();
    if (!box || typeof box.showModal !== "function" || !(form instanceof HTMLFormElement)) {
      return;  // no dialog here, or a browser without one: the confirmation page
    }
    if (form.hasAttribute("data-confirm")) {
      event.preventDefault();
      open(box, form, event.submitter);
    } else if (form.parentNode === box) {
      confirmed(box, form, event);
    }
  }, true);

  document.addEventListener("click", function (event) {
    var cancel = event.target.closest && event.target.closest("[data-confirm-cancel]");
    var box = dialog();
    if (cancel && box && box.open) { box.close(); }
  });

  document.addEventListener("close", function (event) {
    if (event.target === dialog() && event.target.returnValue !== "confirmed") { refocus(); }
  }, true);
})();
