// The convening form's rows (templates/meetings/new.html): agenda items and
// materials added, removed and moved in place. Without JavaScript the same
// buttons (name="row") post the form, which comes back with the change made
// and everything typed kept (collab/meetings/pages.py, ConveneForm.apply).
// After each change the rows are numbered again (names, ids, labels), so the
// form posts item-0, item-1... in the order shown; focus stays on the button
// that moved its row, or goes to the new row, or to the next one.
(function () {
  "use strict";

  var ROW = /\b(item|material)-\d+/g;
  var ATTRIBUTES = ["id", "name", "for", "aria-describedby", "aria-labelledby"];

  function renumber(list) {
    var rows = list.children;
    for (var i = 0; i < rows.length; i++) {
      var nodes = rows[i].querySelectorAll("*");
      var to = function (match, kind) { return kind + "-" + i; };
      for (var j = 0; j < nodes.length; j++) {
        for (var k = 0; k < ATTRIBUTES.length; k++) {
          var value = nodes[j].getAttribute(ATTRIBUTES[k]);
          if (value) { nodes[j].setAttribute(ATTRIBUTES[k], value.replace(ROW, to)); }
        }
        if (nodes[j].tagName === "BUTTON" && nodes[j].value) {
          nodes[j].value = nodes[j].value.replace(ROW, to);
        }
      }
      if (list.getAttribute("data-rows") === "item") {
        var label = rows[i].querySelector("label[id$='-title-label']");
        if (label) { label.textContent = label.textContent.replace(/\d+/, String(i + 1)); }
      }
    }
    var add = document.getElementById("add-" + list.getAttribute("data-rows"));
    if (add) { add.hidden = rows.length >= Number(list.getAttribute("data-max")); }
  }

  function addRow(form, kind) {
    var list = form.querySelector('ol[data-rows="' + kind + '"]');
    var template = document.getElementById(kind + "-row-template");
    if (!list || !template || !template.content.firstElementChild) { return null; }
    list.appendChild(template.content.firstElementChild.cloneNode(true));
    renumber(list);
    return list.lastElementChild;
  }

  function act(button) {
    var form = button.form;
    var action = button.getAttribute("data-row-action");
    if (action === "add") {
      var added = addRow(form, button.getAttribute("data-row-kind"));
      if (added) { added.querySelector("input").focus(); }
      return Boolean(added);
    }
    var row = button.closest("li");
    if (!row || !row.parentNode) { return false; }
    var list = row.parentNode;
    var kind = list.getAttribute("data-rows");
    if (action === "remove") {
      var next = row.nextElementSibling || row.previousElementSibling;
      list.removeChild(row);
      if (!list.children.length) { next = addRow(form, kind); }
      renumber(list);
      if (next) { next.querySelector("input").focus(); }
      return true;
    }
    if (action === "up" && row.previousElementSibling) {
      list.insertBefore(row, row.previousElementSibling);
    } else if (action === "down" && row.nextElementSibling) {
      list.insertBefore(row.nextElementSibling, row);
    }
    renumber(list);
    button.focus();
    return true;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-row-action]");
    if (!button || !button.form || !button.form.hasAttribute("data-convene")) { return; }
    if (act(button)) { event.preventDefault(); }
  });
})();
