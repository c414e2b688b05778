// Upload forms: a progress bar while the files go up, and the size limit and
// the number of files checked before anything is sent. No inline scripts (CSP).
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

  // What is wrong with the files chosen in one input, or null: a file over the
  // size limit, or more files than the form takes (data-max-files, counting
  // the checkboxes data-also-count selects, the files an edit keeps).
  function problemOf(form, input) {
    var max = parseInt(form.dataset.maxBytes || "0", 10);
    var files = input.files || [];
    for (var i = 0; i < files.length; i++) {
      if (max && files[i].size > max) {
        return (form.dataset.tooLarge || "%s").replace("%s", files[i].name);
      }
    }
    var most = parseInt(input.dataset.maxFiles || "0", 10);
    if (most) {
      var count = files.length;
      if (input.dataset.alsoCount) count += form.querySelectorAll(input.dataset.alsoCount).length;
      if (count > most) return input.dataset.tooMany || "";
    }
    return null;
  }

  // Said next to the field (as soon as the files are chosen) and, on sending,
  // in the page's alert.
  function mark(form, input) {
    var problem = problemOf(form, input);
    var box = input.parentNode ? input.parentNode.querySelector("[data-upload-problem]") : null;
    input.classList.toggle("is-invalid", problem !== null);
    if (problem !== null) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    if (box) box.textContent = problem || "";
    return problem;
  }

  function problems(form) {
    var inputs = form.querySelectorAll("input[type=file]");
    var found = null;
    for (var i = 0; i < inputs.length; i++) {
      var problem = mark(form, inputs[i]);
      if (found === null) found = problem;
    }
    return found;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLInputElement) || !target.form) return;
    var form = target.form;
    if (!form.hasAttribute("data-upload")) return;
    // A kept-file checkbox changes the count of the file inputs too.
    var inputs = form.querySelectorAll("input[type=file]");
    for (var i = 0; i < inputs.length; i++) mark(form, inputs[i]);
  });

  document.addEventListener("htmx:confirm", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-upload")) return;
    var problem = problems(form);
    if (problem !== null) {
      event.preventDefault();
      alertText(problem);
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
