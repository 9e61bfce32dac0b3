// A Copy button next to a read-only text field (e.g. the calendar address).
// Without JavaScript the button stays hidden and the field is selectable as
// it is; with it, the button appears, copies the field and says so.
(function () {
  "use strict";

  function copied(field) {
    // The clipboard API needs a secure context (HTTPS or localhost); elsewhere
    // the older command copies the selection.
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(field.value);
    }
    field.select();
    return document.execCommand("copy") ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function say(button, words) {
    const status = document.getElementById(button.dataset.copyStatus);
    if (status) status.textContent = words;
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    const field = document.getElementById(button.dataset.copy);
    if (!field) return;
    button.hidden = false;
    field.addEventListener("focus", function () {
      field.select();
    });
    button.addEventListener("click", function () {
      copied(field).then(
        function () {
          say(button, "Copied.");
        },
        function () {
          field.select();
          say(button, "Press Ctrl+C (or ⌘C) to copy the selected address.");
        }
      );
    });
  });
})();
