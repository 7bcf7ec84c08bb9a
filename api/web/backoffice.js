// The back office (/office): what every page shares. No inline script anywhere (the pages'
// Content-Security-Policy allows scripts from this engine only).
(function () {
  "use strict";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // Every htmx request carries the session's CSRF token (forms carry it as a hidden field).
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrf();
  });

  // htmx swaps a refusal (4xx with a page fragment) into its target too, so that the person
  // sees why; a 5xx is shown in the status line instead of vanishing.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status >= 400 && status < 500) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else if (status >= 500) {
      var flash = document.getElementById("flash");
      if (flash) {
        flash.textContent = "خطای سرور (" + status + "): دوباره تلاش کنید.";
      }
    }
  });

  // After each swap the focus moves to what changed: the first [data-focus] element in it,
  // else the swapped element itself, so a keyboard or screen-reader user is not lost.
  document.addEventListener("htmx:afterSwap", function (event) {
    // A history restore (the back button with no page cached) swaps with no target: the
    // event's own element (the body) is what changed.
    var target = event.detail.target || event.target;
    var focus = target.querySelector("[data-focus]") || target;
    if (!focus.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(focus.tagName)) {
      focus.setAttribute("tabindex", "-1");
    }
    focus.focus();
  });

  // Keyboard: in a list marked [data-list], j and k move the selection among its [data-row]
  // rows; a key named by an element's data-row-key inside the selected row clicks it (a
  // approve, r reject); "/" focuses the element marked data-key="/"; "g" then a letter follows
  // the navigation link whose title names it. Keys typed into a field are left alone.
  var pendingG = false;

  function typing(event) {
    var el = event.target;
    return el && (el.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName));
  }

  function rows() {
    var list = document.querySelector("[data-list]");
    return list ? Array.prototype.slice.call(list.querySelectorAll("[data-row]")) : [];
  }

  function select(row) {
    rows().forEach(function (r) { r.setAttribute("aria-selected", r === row ? "true" : "false"); });
    if (row) {
      row.setAttribute("tabindex", "-1");
      row.focus();
      row.scrollIntoView({ block: "nearest" });
    }
  }

  window.backOffice = { select: select, rows: rows };

  // A row chosen with the mouse (or Tab) is the selected one too.
  document.addEventListener("focusin", function (event) {
    var row = event.target.closest ? event.target.closest("[data-row]") : null;
    if (row) {
      rows().forEach(function (r) { r.setAttribute("aria-selected", r === row ? "true" : "false"); });
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) {
      return;
    }
    var key = event.key;
    if (pendingG) {
      pendingG = false;
      var link = document.querySelector('.bar a[title$="g ' + key + '"]');
      if (link) {
        event.preventDefault();
        link.click();
      }
      return;
    }
    if (key === "g") {
      pendingG = true;
      return;
    }
    if (key === "/") {
      var search = document.querySelector('[data-key="/"]');
      if (search) {
        event.preventDefault();
        search.focus();
      }
      return;
    }
    var all = rows();
    if (!all.length) {
      return;
    }
    var current = all.indexOf(document.querySelector('[data-row][aria-selected="true"]'));
    if (key === "j" || key === "k") {
      event.preventDefault();
      var next = key === "j" ? Math.min(current + 1, all.length - 1) : Math.max(current - 1, 0);
      select(all[next < 0 ? 0 : next]);
      return;
    }
    if (current >= 0) {
      var action = all[current].querySelector('[data-row-key="' + key + '"]');
      if (action) {
        event.preventDefault();
        action.click();
      }
    }
  });
})();
