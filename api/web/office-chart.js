// The back office's charts (/office/reports): each table marked data-chart="CANVAS_ID" is drawn
// as a bar chart on that canvas with Chart.js (served by the engine). The table is the chart's
// only source: a row is a category (its row header the label), a column marked data-series a
// series (its header the name), a cell's data-value the figure. So the chart and the data table
// under it cannot disagree, and no script is written into the page (the CSP forbids inline ones).
(function () {
  "use strict";

  var COLOURS = ["#0b5cad", "#8a5a00", "#1b7a3a", "#6b4fa1", "#b3261e", "#2f8f9d"];
  var digits = new Intl.NumberFormat("fa-IR");

  function text(el) {
    return (el.textContent || "").replace(/\s+/g, " ").trim();
  }

  function draw(table) {
    var canvas = document.getElementById(table.getAttribute("data-chart"));
    if (!canvas || typeof window.Chart === "undefined") {
      return;
    }
    var headers = Array.prototype.slice.call(table.querySelectorAll("thead th"));
    var series = [];
    headers.forEach(function (th, column) {
      if (th.hasAttribute("data-series")) {
        series.push({ key: th.getAttribute("data-series"), label: text(th), column: column });
      }
    });
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
    var labels = rows.map(function (row) { return text(row.children[0]); });
    var datasets = series.map(function (s, i) {
      return {
        label: s.label,
        data: rows.map(function (row) {
          return Number(row.children[s.column].getAttribute("data-value"));
        }),
        backgroundColor: COLOURS[i % COLOURS.length],
      };
    });
    window.Chart.defaults.font.family = "Vazirmatn, sans-serif";
    var chart = new window.Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        locale: "fa-IR",
        scales: {
          x: { reverse: true },
          y: { position: "right", ticks: { callback: function (value) { return digits.format(value); } } },
        },
        plugins: {
          legend: { rtl: true, textDirection: "rtl", position: "bottom" },
          tooltip: {
            rtl: true,
            textDirection: "rtl",
            callbacks: {
              label: function (item) {
                return item.dataset.label + ": " + digits.format(item.raw) + " ریال";
              },
            },
          },
        },
      },
    });
    canvas.setAttribute("data-drawn", String(datasets.length));
    return chart;
  }

  function drawAll() {
    Array.prototype.slice.call(document.querySelectorAll("table[data-chart]")).forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
