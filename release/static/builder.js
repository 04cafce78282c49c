// The hub's pages work without this script: forms are sent and tables rendered on the
// server (release/web.py). With it, the table builder answers as its choices change,
// without a page load, and the chart is drawn with the plotly.js the hub serves.
(function () {
  "use strict";

  function drawChart() {
    var data = document.getElementById("chart-data");
    var box = document.getElementById("chart");
    if (!data || !box || !window.Plotly) return;
    var figure = JSON.parse(data.textContent);
    window.Plotly.newPlot(box, figure.data, figure.layout, { displaylogo: false, responsive: true })
      .then(function () { box.setAttribute("data-drawn", "true"); });
  }

  var pending = null;  // the request under way: a newer choice cancels it, so the last one shows

  function refresh(form) {
    var url = form.action + "?" + new URLSearchParams(new FormData(form)).toString();
    var results = document.getElementById("results");
    if (pending) pending.abort();
    var mine = pending = new AbortController();
    results.setAttribute("aria-busy", "true");
    fetch(url, { headers: { "X-Thbdb-Partial": "1" }, credentials: "same-origin", signal: mine.signal })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (mine !== pending) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("results");
        if (fresh) results.replaceWith(document.adoptNode(fresh));
        history.replaceState(null, "", url);
        drawChart();
      })
      .catch(function (error) {
        if (error.name !== "AbortError") form.submit();  // the server renders the page instead
      })
      .finally(function () {
        if (mine === pending) {
          pending = null;
          var shown = document.getElementById("results");
          if (shown) shown.removeAttribute("aria-busy");
        }
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawChart();
    var builder = document.getElementById("builder");
    if (builder) {
      builder.addEventListener("submit", function (event) {
        event.preventDefault();
        refresh(builder);
      });
      builder.addEventListener("change", function (event) {
        // Another measure has other dimensions: the server lays the form out again.
        if (event.target.name === "measure") builder.submit();
        else if (event.target.name !== "year_from" && event.target.name !== "year_to") refresh(builder);
      });
    }
    var language = document.getElementById("language");
    if (language) language.addEventListener("change", function () { language.form.submit(); });
    var print = document.getElementById("print");
    if (print) print.addEventListener("click", function () { window.print(); });
  });
})();
