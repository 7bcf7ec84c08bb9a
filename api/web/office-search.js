// The back office's search page (/office/search). While a person types, the results are
// swapped in beside the field and the focus stays in it (backoffice.js moves the focus to what
// changed after each swap; here that would take the caret away mid-word). After Enter or the
// button the focus goes to the results as on every other page.
(function () {
  "use strict";
  var typing = false;

  document.addEventListener("input", function (event) {
    if (event.target && event.target.id === "q") {
      typing = true;
    }
  });

  document.addEventListener("submit", function (event) {
    if (event.target && event.target.querySelector("#q")) {
      typing = false;
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var field = document.getElementById("q");
    if (typing && field && event.detail.target && event.detail.target.id === "results") {
      field.focus();
    }
  });
})();
