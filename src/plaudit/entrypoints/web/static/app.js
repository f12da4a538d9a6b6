// The pages' only script besides the vendored Chart.js: it draws the charts whose data
// the server put in <script type="application/json"> blocks, and moves the rulebook
// editor's cursor to an error's line. Every page works without it; charts also come with
// a table of the same numbers for screen readers and for people without script.
"use strict";
(function () {
  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }
  var palette = { accent: "--accent", muted: "--muted", good: "--good", bad: "--bad", warn: "--warn" };
  function colour(name, i) {
    if (name && palette[name]) return css(palette[name]);
    if (name) return name;
    var order = ["--accent", "--good", "--warn", "--bad", "--muted"];
    return css(order[i % order.length]);
  }
  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") return;
    var spec = JSON.parse(source.textContent);
    var text = css("--text"), line = css("--line");
    Chart.defaults.color = css("--muted");
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    var datasets = spec.series.map(function (s, i) {
      var c = s.colors ? s.colors.map(function (n, j) { return colour(n, j); }) : colour(s.color, i);
      return {
        label: s.label, data: s.data, borderColor: c, backgroundColor: c,
        borderWidth: spec.type === "line" ? 2 : 0, pointRadius: spec.type === "line" ? 2 : 0,
        tension: 0.25, stepped: s.stepped || false, fill: false,
      };
    });
    var scales = spec.type === "doughnut" ? {} : {
      x: { stacked: !!spec.stacked, grid: { color: line }, title: { display: !!spec.x_title, text: spec.x_title || "" } },
      y: { stacked: !!spec.stacked, grid: { color: line }, suggestedMin: spec.y_min, suggestedMax: spec.y_max,
           beginAtZero: spec.y_min === undefined, title: { display: !!spec.y_title, text: spec.y_title || "" } },
    };
    new Chart(canvas, {
      type: spec.type, data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false, scales: scales,
        plugins: { legend: { display: datasets.length > 1 || spec.type === "doughnut", labels: { color: text } } },
      },
    });
    canvas.dataset.drawn = "true";
  }
  function editor() {
    document.querySelectorAll("[data-goto-line]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var area = document.getElementById(link.dataset.target);
        if (!area) return;
        event.preventDefault();
        var line = parseInt(link.dataset.gotoLine, 10), lines = area.value.split("\n"), at = 0;
        for (var i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
        area.focus();
        area.setSelectionRange(at, at + (lines[line - 1] || "").length);
        var lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 20;
        area.scrollTop = Math.max(0, (line - 5) * lineHeight);
      });
    });
  }
  function confirmations() {
    // a button whose form needs a typed confirmation stays disabled until it matches
    document.querySelectorAll("input[data-confirm-value]").forEach(function (input) {
      var button = document.getElementById(input.dataset.confirmButton);
      if (!button) return;
      function check() { button.disabled = input.value.trim() !== input.dataset.confirmValue; }
      input.addEventListener("input", check);
      check();
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
    editor();
    confirmations();
  });
})();
