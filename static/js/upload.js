// Upload forms: a progress bar while the files go up, and the size limit
// checked before anything is sent. No inline scripts (CSP).
//
// Markup: <form data-upload data-max-bytes="52428800" data-too-large="..."
//   hx-post="..." hx-encoding="multipart/form-data"> ... <div data-upload-progress
//   class="progress d-none"><div class="progress-bar" role="progressbar"
//   aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"></div></div>
//   <span data-upload-status></span></form>
// Without JavaScript the form posts normally (its action carries the CSRF token).
(function () {
  "use strict";

  function parts(form) {
    var box = form.querySelector("[data-upload-progress]");
    return {
      box: box,
      bar: box ? box.querySelector("[role=progressbar]") : null,
      status: form.querySelector("[data-upload-status]"),
    };
  }

  function show(form, percent) {
    var p = parts(form);
    if (!p.box || !p.bar) return;
    p.box.classList.remove("d-none");
    p.bar.style.width = percent + "%";
    p.bar.setAttribute("aria-valuenow", String(percent));
    if (p.status) {
      p.status.textContent = (form.dataset.progressLabel || "%s%").replace("%s", percent);
    }
  }

  function alertText(text) {
    var alerts = document.getElementById("alerts");
    if (!alerts) return;
    alerts.innerHTML = "";
    var div = document.createElement("div");
    div.className = "alert alert-danger";
    div.setAttribute("role", "alert");
    div.textContent = text;
    alerts.appendChild(div);
    alerts.scrollIntoView({ behavior: "smooth", block: "center" });
  }

  function tooLarge(form) {
    var max = parseInt(form.dataset.maxBytes || "0", 10);
    if (!max) return null;
    var inputs = form.querySelectorAll("input[type=file]");
    for (var i = 0; i < inputs.length; i++) {
      var files = inputs[i].files || [];
      for (var j = 0; j < files.length; j++) {
        if (files[j].size > max) return files[j].name;
      }
    }
    return null;
  }

  document.addEventListener("htmx:confirm", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-upload")) return;
    var name = tooLarge(form);
    if (name !== null) {
      event.preventDefault();
      alertText((form.dataset.tooLarge || "%s").replace("%s", name));
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-upload")) {
      form.setAttribute("aria-busy", "true");
      show(form, 0);
    }
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-upload")) return;
    var detail = event.detail;
    if (detail && detail.lengthComputable && detail.total > 0) {
      show(form, Math.min(100, Math.round((detail.loaded / detail.total) * 100)));
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-upload")) {
      form.removeAttribute("aria-busy");
      if (event.detail && event.detail.successful) {
        show(form, 100);
        form.dataset.uploaded = "true";
      }
    }
  });
})();
