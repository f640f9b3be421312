// samldebug page behaviour. No inline scripts anywhere (strict CSP); everything works without this file too.
(function () {
  "use strict";
  var form = document.getElementById("analyze-form");
  if (!form) return;

  // Ctrl/Cmd + Enter analyses from anywhere in the form.
  form.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      form.requestSubmit();
    }
  });

  // JSON and XML downloads are plain form posts (not swapped into the page by htmx).
  Array.prototype.forEach.call(form.querySelectorAll("button[data-plain]"), function (button) {
    button.addEventListener("click", function (e) {
      e.preventDefault();
      var action = form.getAttribute("action"), target = form.getAttribute("target");
      form.setAttribute("action", button.formAction);
      if (button.formTarget) form.setAttribute("target", button.formTarget);
      HTMLFormElement.prototype.submit.call(form);
      form.setAttribute("action", action);
      if (target === null) form.removeAttribute("target"); else form.setAttribute("target", target);
    });
  });

  // Drop a file (HAR, export, XML) or text onto the paste area.
  var area = document.getElementById("input");
  var file = document.getElementById("file");
  var note = document.getElementById("dropped");
  function showFile() {
    note.textContent = file.files && file.files.length ? "File: " + file.files[0].name : "";
  }
  ["dragenter", "dragover"].forEach(function (type) {
    area.addEventListener(type, function (e) { e.preventDefault(); area.classList.add("drop"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    area.addEventListener(type, function () { area.classList.remove("drop"); });
  });
  area.addEventListener("drop", function (e) {
    e.preventDefault();
    if (e.dataTransfer.files && e.dataTransfer.files.length) {
      file.files = e.dataTransfer.files;
      area.value = "";
      showFile();
    } else {
      area.value = e.dataTransfer.getData("text");
    }
  });
  file.addEventListener("change", showFile);
  area.addEventListener("input", function () {
    if (area.value && file.value) { file.value = ""; showFile(); }
  });

  // After a report arrives, bring the verdict into view for keyboard and screen-reader users.
  document.body.addEventListener("htmx:afterSwap", function () {
    var verdict = document.getElementById("verdict");
    if (verdict) {
      verdict.setAttribute("tabindex", "-1");
      verdict.focus();
    }
  });
})();
