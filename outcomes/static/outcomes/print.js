// A Print button on a page made to be printed (a scorecard). Without
// JavaScript the button stays hidden and the browser's own Print works.
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });
})();
