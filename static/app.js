// samldebug page behaviour. No inline scripts anywhere (strict CSP); everything works without this file too:
// the controls that need it (copy, ×, "use it as", browser profiles) are rendered `hidden` and shown here.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // ---- Copy buttons: data-copy="#id" copies that input's value or that element's text ---------------------
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) resolve(); else reject(new Error("copy refused"));
    });
  }
  function showControls(root) {
    Array.prototype.forEach.call(root.querySelectorAll("button.copy, button.chip-x, button.use-as"), function (b) {
      b.hidden = false;
    });
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("button.copy");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = "value" in source && source.tagName !== "PRE" ? source.value : source.textContent;
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    copyText(text).then(function () {
      button.textContent = "Copied";
      button.classList.add("done");
    }, function () {
      button.textContent = "Select and copy by hand";
      if (source.select) source.select();
    });
    window.setTimeout(function () { button.textContent = label; button.classList.remove("done"); }, 2000);
  });

  showControls(document);
  document.body.addEventListener("htmx:afterSwap", function (e) { showControls(e.target); });

  var form = document.getElementById("analyze-form");
  if (!form) return;
  var settings = document.getElementById("settings");

  function field(name) { return form.elements.namedItem(name); }
  function clearField(name) {
    var el = field(name);
    if (!el) return;
    if (el.tagName === "SELECT") el.selectedIndex = 0; else el.value = "";
  }
  function analyseAgain() {
    if (field("input").value.trim() || (field("file") && field("file").value)) form.requestSubmit();
  }

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

  // Every refusal (400 unusable input, 413 too large, 429 too many requests, 503 …) is shown in the report area:
  // htmx leaves 4xx/5xx answers unswapped by default, which looked like nothing happened.
  document.body.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr && e.detail.xhr.status >= 400) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  // ---- Report controls: × on a settings chip, "use it as …", "Add the SP's entity ID …" -----------------
  function openField(name) {
    var el = field(name);
    if (!el) return;
    if (settings) settings.open = true;
    el.scrollIntoView({ block: "center" });
    el.focus();
  }
  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target : null;
    if (!t) return;
    var x = t.closest("button.chip-x");
    if (x) {
      x.getAttribute("data-clear").split(" ").forEach(clearField);
      analyseAgain();
      return;
    }
    var move = t.closest("button.use-as");
    if (move) {
      var from = field(move.getAttribute("data-move-from")), to = field(move.getAttribute("data-move-to"));
      if (!from || !to) return;
      var value = from.value;
      from.value = to.value; // a swap: the other box often holds what belongs here
      to.value = value;
      if (to.closest("details") && to.closest("details") !== form) to.closest("details").open = true;
      var item = move.closest("li"), list = document.getElementById("misplaced");
      if (item) item.parentNode.removeChild(item);
      if (list && !list.children.length) list.parentNode.removeChild(list);
      if (field("input").value.trim() || (field("file") && field("file").value)) {
        analyseAgain();
      } else {
        field("input").focus(); // the message box is empty now: the message itself comes next
      }
      return;
    }
    var add = t.closest("a.add-field");
    if (add) {
      e.preventDefault();
      openField(add.getAttribute("data-field"));
    }
  });

  // After a report arrives, bring the settings in effect and the verdict into view (also with the settings
  // panel open) and give keyboard and screen-reader users the verdict.
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (!e.target || e.target.id !== "report") return;
    var shared = document.getElementById("shared");
    var verdict = document.getElementById("verdict") || document.getElementById("form-error");
    var top = shared || document.getElementById("in-effect") || document.getElementById("misplaced") || verdict;
    if (top) top.scrollIntoView({ block: "start" });
    var focus = shared || verdict;
    if (focus) {
      focus.setAttribute("tabindex", "-1");
      focus.focus({ preventScroll: true });
    }
  });

  // ---- App profiles kept in this browser (localStorage). Nothing here talks to the server: the values reach
  // it only as the form's own fields when the user analyses. --------------------------------------------------
  var KEY = "samldebug.profiles.v1";
  var SAVED = ["profile", "preset_param", "sp_entity_id", "acs_url", "required_claims", "name_id_format",
    "expected_name_id", "signing", "metadata_url", "tenant", "app_id", "cloud", "metadata", "cert", "idp_entity_id",
    "skew", "sp_cert"]; // never the message, the SP private key, files or the evaluation time
  var box = document.getElementById("local-profiles");
  if (!box) return;
  var store;
  try { store = window.localStorage; store.getItem(KEY); } catch (err) { return; } // storage disabled: stay hidden
  var select = document.getElementById("local-profile");
  var nameInput = document.getElementById("local-name");
  var del = document.getElementById("local-delete");
  function load() {
    try { return JSON.parse(store.getItem(KEY) || "{}") || {}; } catch (err) { return {}; }
  }
  function render(selected) {
    var all = load();
    while (select.options.length > 1) select.remove(1);
    Object.keys(all).sort().forEach(function (name) {
      var o = document.createElement("option");
      o.value = name; o.textContent = name;
      if (name === selected) o.selected = true;
      select.appendChild(o);
    });
    del.disabled = !select.value;
  }
  select.addEventListener("change", function () {
    var values = load()[select.value];
    del.disabled = !select.value;
    if (!values) return;
    SAVED.forEach(function (name) {
      var el = field(name);
      if (!el) return;
      el.value = values[name] || "";
      if (el.tagName === "SELECT" && el.selectedIndex < 0) el.selectedIndex = 0;
    });
    nameInput.value = select.value;
  });
  document.getElementById("local-save").addEventListener("click", function () {
    var name = nameInput.value.trim();
    if (!name) { nameInput.focus(); return; }
    var all = load(), values = {};
    SAVED.forEach(function (n) { var el = field(n); if (el && el.value) values[n] = el.value; });
    all[name] = values;
    store.setItem(KEY, JSON.stringify(all));
    render(name);
  });
  del.addEventListener("click", function () {
    var all = load();
    delete all[select.value];
    store.setItem(KEY, JSON.stringify(all));
    render("");
  });
  render("");
  box.hidden = false;
})();
