// tfhub pages: copy buttons (the only script; loaded from this hub, no inline code).
"use strict";
(function () {
  function textOf(target) {
    return target.value !== undefined && target.tagName === "INPUT" ? target.value : target.textContent;
  }
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "sr-only";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }
  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }
  function show(button, label, ok) {
    var original = button.getAttribute("data-label") || button.firstChild.nodeValue;
    button.setAttribute("data-label", original);
    button.firstChild.nodeValue = label;
    button.classList.toggle("done", ok);
    window.setTimeout(function () {
      button.firstChild.nodeValue = original;
      button.classList.remove("done");
    }, 2000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("button.copy[data-copy]");
    Array.prototype.forEach.call(buttons, function (button) {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target) { return; }
      button.hidden = false;
      button.setAttribute("aria-live", "polite");
      button.addEventListener("click", function () {
        copy(textOf(target)).then(
          function () { show(button, "Copied", true); },
          function () { show(button, "Press Ctrl+C", false); }
        );
      });
    });
  });
})();
