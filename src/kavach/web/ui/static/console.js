/* Kavach review console: keyboard shortcuts. Every shortcut has a visible button or link
   (marked data-key="x"); this file only presses it. No inline scripts anywhere (the CSP). */
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.closest) return false;
    return Boolean(target.closest("input, textarea, select, [contenteditable]"));
  }

  function toggleHelp(show) {
    var help = document.getElementById("help");
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
    var toggle = document.querySelector("[aria-controls=help]");
    if (toggle) toggle.setAttribute("aria-expanded", String(!help.hidden));
    if (!help.hidden) help.focus();
  }

  /* On a list page, j/k move the focus through the items (Enter opens one). */
  function moveInList(step) {
    var items = Array.prototype.slice.call(document.querySelectorAll("[data-nav-item]"));
    if (!items.length) return false;
    var at = items.indexOf(document.activeElement);
    var next = at < 0 ? (step > 0 ? 0 : items.length - 1) : Math.min(items.length - 1, Math.max(0, at + step));
    items[next].focus();
    return true;
  }

  function press(key) {
    var control = document.querySelector('[data-key="' + key + '"]:not([disabled])');
    if (!control) return false;
    if (control.tagName === "A") {
      window.location.assign(control.href);
    } else {
      control.click();
    }
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var key = event.key;
    if (key === "?") { toggleHelp(); event.preventDefault(); return; }
    if (key === "Escape") { toggleHelp(false); return; }
    if ((key === "j" || key === "k") && !document.querySelector('[data-key="' + key + '"]')) {
      if (moveInList(key === "j" ? 1 : -1)) event.preventDefault();
      return;
    }
    if (key.length === 1 && press(key.toLowerCase())) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest("[aria-controls=help]");
    if (toggle) { toggleHelp(); event.preventDefault(); }
  });

  /* Video is muted and paused until the reviewer chooses otherwise, also after htmx swaps. */
  function quiet(root) {
    root.querySelectorAll("video").forEach(function (video) {
      video.muted = true;
      video.pause();
    });
  }
  document.addEventListener("DOMContentLoaded", function () { quiet(document); });
  document.addEventListener("htmx:afterSwap", function (event) {
    quiet(event.target);
    var focus = event.target.querySelector("[data-focus]");
    if (focus) focus.focus();
  });
})();
