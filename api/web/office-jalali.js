// A small Jalali date picker for the back office (docs/BACKOFFICE.md, "Subscription").
// Any <input data-jalali> gets a "calendar" button that opens a month of day buttons below it;
// choosing a day writes "۱۴۰۵/۰۲/۱۴ ۰۹:۰۰" into the field, keeping the time already typed
// (00:00 if none). The field stays a plain text field: typing works with or without this script,
// and the server reads it (domain/jalali.py, parse_moment). The calendar arithmetic is
// Borkowski's breaks algorithm, the same as domain/jalali.py (the browser tests compare them).
(function () {
  "use strict";

  var BREAKS = [-61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210,
    1635, 2060, 2097, 2192, 2262, 2324, 2394, 2456, 3178];
  var DAY = 86400000;
  var MONTHS = ["فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
    "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند"];
  var WEEKDAYS = ["ش", "ی", "د", "س", "چ", "پ", "ج"]; // Saturday first
  var PERSIAN = "۰۱۲۳۴۵۶۷۸۹";

  function div(a, b) { return ~~(a / b); }
  function mod(a, b) { return a - ~~(a / b) * b; } // truncating, as C and domain/jalali.py's _trunc_mod

  // Nowruz (as a UTC midnight, in ms) and leapness of Jalali year jy.
  function yearInfo(jy) {
    if (jy < 1 || jy >= BREAKS[BREAKS.length - 1]) { throw new RangeError("Jalali year " + jy); }
    var gy = jy + 621, leapJ = -14, jp = BREAKS[0], jump = 0, i;
    for (i = 1; i < BREAKS.length; i += 1) {
      jump = BREAKS[i] - jp;
      if (jy < BREAKS[i]) { break; }
      leapJ += div(jump, 33) * 8 + div(mod(jump, 33), 4);
      jp = BREAKS[i];
    }
    var n = jy - jp;
    leapJ += div(n, 33) * 8 + div(mod(n, 33) + 3, 4);
    if (mod(jump, 33) === 4 && jump - n === 4) { leapJ += 1; }
    var leapG = div(gy, 4) - div((div(gy, 100) + 1) * 3, 4) - 150;
    var march = 20 + leapJ - leapG;
    if (jump - n < 6) { n = n - jump + div(jump + 4, 33) * 33; }
    var position = mod(mod(n + 1, 33) - 1, 4);
    return { nowruz: Date.UTC(gy, 2, march), leap: position === 0 };
  }

  function monthLength(jy, jm) {
    if (jm <= 6) { return 31; }
    if (jm <= 11) { return 30; }
    return yearInfo(jy).leap ? 30 : 29;
  }

  function dayOfYear(jm, jd) {
    return (jm <= 6 ? (jm - 1) * 31 : 186 + (jm - 7) * 30) + jd - 1;
  }

  // [gy, gm, gd] of a Jalali date.
  function toGregorian(jy, jm, jd) {
    var d = new Date(yearInfo(jy).nowruz + dayOfYear(jm, jd) * DAY);
    return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
  }

  // [jy, jm, jd] of a Gregorian date.
  function toJalali(gy, gm, gd) {
    var t = Date.UTC(gy, gm - 1, gd), jy = gy - 621;
    if (t < yearInfo(jy).nowruz) { jy -= 1; }
    var doy = Math.round((t - yearInfo(jy).nowruz) / DAY), jm, jd;
    if (doy < 186) { jm = div(doy, 31); jd = doy % 31; } else { jm = div(doy - 186, 30) + 6; jd = (doy - 186) % 30; }
    return [jy, jm + 1, jd + 1];
  }

  function persian(text) {
    return String(text).replace(/[0-9]/g, function (c) { return PERSIAN.charAt(+c); });
  }
  function latin(text) {
    return String(text).replace(/[۰-۹]/g, function (c) { return String(PERSIAN.indexOf(c)); })
      .replace(/[٠-٩]/g, function (c) { return String(c.charCodeAt(0) - 0x660); });
  }
  function two(n) { return (n < 10 ? "0" : "") + n; }

  // {jy, jm, jd, time} from what the field holds, or null.
  function read(text) {
    var m = /^\s*(\d{1,4})[\/-](\d{1,2})[\/-](\d{1,2})(?:\s+(\d{1,2}:\d{1,2}))?\s*$/.exec(latin(text || ""));
    if (!m) { return null; }
    var jy = +m[1], jm = +m[2], jd = +m[3];
    if (jm < 1 || jm > 12 || jd < 1 || jd > monthLength(jy, jm)) { return null; }
    return { jy: jy, jm: jm, jd: jd, time: m[4] || "" };
  }

  function format(jy, jm, jd, time) {
    return persian(jy + "/" + two(jm) + "/" + two(jd) + " " + (time || "00:00"));
  }

  var counter = 0;

  function attach(input) {
    if (input.getAttribute("data-jalali-ready")) { return; }
    input.setAttribute("data-jalali-ready", "1");
    counter += 1;
    var id = "jalali-" + counter;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "jalali-open";
    button.textContent = "تقویم";
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", id);
    var label = input.labels && input.labels.length ? input.labels[0].textContent : "";
    button.setAttribute("aria-label", "تقویم شمسی" + (label ? ": " + label : ""));
    var panel = document.createElement("div");
    panel.id = id;
    panel.className = "jalali-panel";
    panel.hidden = true;
    panel.setAttribute("role", "group");
    panel.setAttribute("aria-label", "انتخاب روز");
    input.insertAdjacentElement("afterend", button);
    button.insertAdjacentElement("afterend", panel);

    var shown = null; // {jy, jm}

    function today() {
      return read(input.getAttribute("data-today")) || (function () {
        var now = new Date(Date.now() + 3.5 * 3600000); // Tehran, UTC+03:30
        var j = toJalali(now.getUTCFullYear(), now.getUTCMonth() + 1, now.getUTCDate());
        return { jy: j[0], jm: j[1], jd: j[2], time: "" };
      })();
    }

    function draw() {
      var current = read(input.value), t = today();
      panel.textContent = "";
      var head = document.createElement("div");
      head.className = "jalali-head";
      var prev = document.createElement("button");
      prev.type = "button"; prev.textContent = "ماه قبل"; prev.className = "jalali-prev";
      var next = document.createElement("button");
      next.type = "button"; next.textContent = "ماه بعد"; next.className = "jalali-next";
      var title = document.createElement("strong");
      title.className = "jalali-title";
      title.setAttribute("aria-live", "polite");
      title.textContent = MONTHS[shown.jm - 1] + " " + persian(shown.jy);
      prev.addEventListener("click", function () { move(-1); });
      next.addEventListener("click", function () { move(1); });
      head.appendChild(prev); head.appendChild(title); head.appendChild(next);
      panel.appendChild(head);

      var table = document.createElement("table");
      table.className = "jalali-grid";
      var row = document.createElement("tr");
      WEEKDAYS.forEach(function (w) {
        var th = document.createElement("th"); th.scope = "col"; th.textContent = w; row.appendChild(th);
      });
      var thead = document.createElement("thead"); thead.appendChild(row); table.appendChild(thead);
      var body = document.createElement("tbody");
      var g = toGregorian(shown.jy, shown.jm, 1);
      var weekday = (new Date(Date.UTC(g[0], g[1] - 1, g[2])).getUTCDay() + 1) % 7; // 0 = Saturday
      row = document.createElement("tr");
      for (var blank = 0; blank < weekday; blank += 1) { row.appendChild(document.createElement("td")); }
      var length = monthLength(shown.jy, shown.jm);
      for (var d = 1; d <= length; d += 1) {
        var cell = document.createElement("td");
        var day = document.createElement("button");
        day.type = "button";
        day.className = "jalali-day";
        day.textContent = persian(d);
        day.setAttribute("data-day", String(d));
        day.setAttribute("aria-label", persian(d) + " " + MONTHS[shown.jm - 1] + " " + persian(shown.jy));
        if (current && current.jy === shown.jy && current.jm === shown.jm && current.jd === d) {
          day.setAttribute("aria-pressed", "true");
        }
        if (t.jy === shown.jy && t.jm === shown.jm && t.jd === d) { day.className += " today"; }
        day.addEventListener("click", choose);
        cell.appendChild(day);
        row.appendChild(cell);
        if ((weekday + d) % 7 === 0) { body.appendChild(row); row = document.createElement("tr"); }
      }
      if (row.childNodes.length) { body.appendChild(row); }
      table.appendChild(body);
      panel.appendChild(table);
    }

    function move(months) {
      var m = shown.jm + months;
      shown = { jy: shown.jy + Math.floor((m - 1) / 12), jm: ((m - 1) % 12 + 12) % 12 + 1 };
      draw();
    }

    function choose(event) {
      var d = +event.currentTarget.getAttribute("data-day");
      var current = read(input.value);
      input.value = format(shown.jy, shown.jm, d, current ? current.time : "");
      close();
      input.focus();
    }

    function open() {
      var start = read(input.value) || today();
      shown = { jy: start.jy, jm: start.jm };
      draw();
      panel.hidden = false;
      button.setAttribute("aria-expanded", "true");
      var pressed = panel.querySelector('[aria-pressed="true"]') || panel.querySelector(".today") ||
        panel.querySelector(".jalali-day");
      if (pressed) { pressed.focus(); }
    }

    function close() {
      panel.hidden = true;
      button.setAttribute("aria-expanded", "false");
    }

    button.addEventListener("click", function () { if (panel.hidden) { open(); } else { close(); } });
    // Keys in the month: arrows move among the days (right to left: ArrowLeft is the next
    // day), up and down by a week, PageUp and PageDown by a month; Escape closes.
    var STEPS = { ArrowLeft: 1, ArrowRight: -1, ArrowDown: 7, ArrowUp: -7 };
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); close(); button.focus(); return; }
      var from = event.target.getAttribute && event.target.getAttribute("data-day");
      if (event.key === "PageUp" || event.key === "PageDown") {
        event.preventDefault();
        move(event.key === "PageDown" ? 1 : -1);
        focusDay(from ? Math.min(+from, monthLength(shown.jy, shown.jm)) : 1);
        return;
      }
      if (!from || !(event.key in STEPS)) { return; }
      event.preventDefault();
      var day = +from + STEPS[event.key], length = monthLength(shown.jy, shown.jm);
      if (day < 1) { move(-1); day += monthLength(shown.jy, shown.jm); }
      else if (day > length) { move(1); day -= length; }
      focusDay(day);
    });

    function focusDay(day) {
      var target = panel.querySelector('.jalali-day[data-day="' + day + '"]');
      if (target) { target.focus(); }
    }
  }

  function attachAll(root) {
    var found = (root || document).querySelectorAll ? (root || document).querySelectorAll("input[data-jalali]") : [];
    Array.prototype.forEach.call(found, attach);
  }

  window.jalali = { toJalali: toJalali, toGregorian: toGregorian, monthLength: monthLength, read: read, format: format };
  document.addEventListener("DOMContentLoaded", function () { attachAll(document); });
  // htmx swaps new fields in: give them their calendar too.
  document.addEventListener("htmx:load", function (event) { attachAll(event.detail.elt.parentNode || document); });
})();
