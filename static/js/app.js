// collab front-end glue. No inline scripts: the Content-Security-Policy forbids them.
(function () {
  "use strict";
  if (window.bootstrap && window.bootstrap.loadFonts) {
    window.bootstrap.loadFonts("/static/vendor/bootstrap-italia/fonts");
  }
  // Move focus to the alert area when htmx shows an error, for screen readers
  // and keyboard users.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "alerts") {
      event.detail.target.scrollIntoView({ behavior: "smooth", block: "center" });
    }
  });
  // Any htmx request that fails at the network level gets a readable message.
  document.addEventListener("htmx:sendError", function () {
    var alerts = document.getElementById("alerts");
    if (alerts) {
      alerts.innerHTML = "";
      var div = document.createElement("div");
      div.className = "alert alert-danger";
      div.setAttribute("role", "alert");
      div.textContent = document.body.dataset.networkError || "Network error";
      alerts.appendChild(div);
    }
  });
})();
