// The hub's pages work without this script: forms are sent and tables rendered on the
// server (release/web.py). With it, the table builder answers without a page load, the
// chart is drawn with the plotly.js the hub serves, and choosing another measure offers
// its dimensions at once. Nothing is asked of the hub until "Show the table": every
// request is an audited query, and a half-made choice should not be one.
(function () {
  "use strict";

  function drawChart() {
    var data = document.getElementById("chart-data");
    var box = document.getElementById("chart");
    if (!data || !box || !window.Plotly) return;
    var figure = JSON.parse(data.textContent);
    window.Plotly.newPlot(box, figure.data, figure.layout, { displayModeBar: false, responsive: true })
      .then(function () { box.setAttribute("data-drawn", "true"); });
  }

  // The rows and columns a measure offers (the page lists them per measure).
  function offerDimensions(builder, measure) {
    var listed = document.getElementById("measure-dimensions");
    if (!listed) return;
    var dimensions = JSON.parse(listed.textContent)[measure] || [];
    ["rows", "columns"].forEach(function (name) {
      var select = builder.elements[name];
      var chosen = select.value;
      var keep = name === "columns" ? [select.options[0]] : [];  // "(none)"
      select.replaceChildren.apply(select, keep);
      dimensions.forEach(function (pair) {
        select.appendChild(new Option(pair[1], pair[0], false, pair[0] === chosen));
      });
      if (name === "columns" && !dimensions.some(function (p) { return p[0] === chosen; })) select.value = "";
    });
  }

  var pending = null;  // the request under way: a newer one cancels it, so the last one shows

  function refresh(form) {
    var query = new URLSearchParams(new FormData(form)).toString();
    var url = form.action + "?" + query;
    var results = document.getElementById("results");
    var status = document.getElementById("status");
    if (pending) pending.abort();
    var mine = pending = new AbortController();
    results.setAttribute("aria-busy", "true");
    fetch(url, { headers: { "X-Thbdb-Partial": "1" }, credentials: "same-origin", signal: mine.signal })
      .then(function (response) {
        if (response.redirected) throw new Error("signed out");  // the session ended: load the page
        return response.text();
      })
      .then(function (html) {
        if (mine !== pending) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("results");
        if (!fresh) throw new Error("no table in the answer");
        results.replaceWith(document.adoptNode(fresh));
        history.replaceState(null, "", url);
        var back = document.querySelector("#language-switch input[name=back]");
        if (back) back.value = "/ui/tables?" + query;  // a language switch keeps this table
        if (status) status.textContent = fresh.getAttribute("data-status") || "";
        drawChart();
      })
      .catch(function (error) {
        if (error.name !== "AbortError") window.location.assign(url);  // the server renders the page
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
        if (event.target.name === "measure") offerDimensions(builder, event.target.value);
      });
    }
    var print = document.getElementById("print");
    if (print) print.addEventListener("click", function () { window.print(); });
  });
})();
