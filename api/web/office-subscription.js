// The subscription page: after a whole-page answer (a redirect back after an action, the
// confirmation step without htmx, an as-of query), the focus goes to what it is about, as
// backoffice.js does after an htmx swap.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var focus = document.querySelector("#main [data-focus]");
    if (focus) {
      focus.focus();
    }
  });
})();
