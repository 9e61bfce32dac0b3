// Draws the dashboards' charts (Chart.js, from the project's static files) from the
// figures the page embeds with json_script. Each chart has a table of the same numbers
// beside it: the chart is a picture of the table, never the only copy.
(function () {
  "use strict";
  var source = document.getElementById("analytics-charts");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var charts = JSON.parse(source.textContent);
  // Okabe and Ito's palette: told apart by readers with any common colour-vision deficiency.
  var palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  var money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
  var plain = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

  function format(unit, value) {
    if (value === null || value === undefined) {
      return "—";
    }
    if (unit === "money") {
      return money.format(value);
    }
    if (unit === "percent") {
      return plain.format(value) + " %";
    }
    return plain.format(value);
  }

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var spec = charts[canvas.dataset.chart];
    if (!spec) {
      return;
    }
    var horizontal = spec.kind === "hbar";
    var stacked = spec.kind === "stacked";
    var line = spec.kind === "line";
    var valueAxis = horizontal ? "x" : "y";
    var scales = {};
    scales[valueAxis] = {
      beginAtZero: true,
      stacked: stacked,
      ticks: { callback: function (value) { return format(spec.unit, value); } },
    };
    scales[horizontal ? "y" : "x"] = { stacked: stacked, ticks: { autoSkip: !horizontal } };
    new window.Chart(canvas, {
      type: line ? "line" : "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (series, index) {
          var colour = palette[index % palette.length];
          return {
            label: series.name,
            data: series.values,
            backgroundColor: colour,
            borderColor: colour,
            borderWidth: line ? 2 : 0,
            pointRadius: line ? 2 : 0,
          };
        }),
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: scales,
        plugins: {
          legend: { display: spec.series.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (context) {
                return context.dataset.label + ": " + format(spec.unit, context.raw);
              },
            },
          },
        },
      },
    });
  });
})();
