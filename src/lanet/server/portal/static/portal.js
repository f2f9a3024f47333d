/* LANET portal: times in the viewer's zone, live metric charts, command results as they arrive. */
(function () {
  "use strict";
  var lang = document.body.getAttribute("data-lang") === "en" ? "en-US" : "es-MX";

  function localTimes(root) {
    var fmt = new Intl.DateTimeFormat(lang, {dateStyle: "medium", timeStyle: "short"});
    (root || document).querySelectorAll("time[datetime]").forEach(function (node) {
      var when = new Date(node.getAttribute("datetime"));
      if (isNaN(when.getTime())) return;
      node.title = node.getAttribute("datetime");
      node.textContent = fmt.format(when);
    });
  }

  function percent(value) {
    return value === null || value === undefined ? "—" : Math.round(value) + " %";
  }

  function setText(id, text) {
    var node = document.getElementById(id);
    if (node) node.textContent = text;
  }

  function charts() {
    var box = document.getElementById("charts");
    if (!box || !window.LanetChart) return;
    var url = box.getAttribute("data-url");
    var range = "hour";
    var spans = {hour: 3600e3, day: 86400e3, week: 7 * 86400e3, month: 30 * 86400e3};
    var label = function (k) { return box.getAttribute("data-label-" + k); };

    function render(data) {
      var to = Date.now(), from = to - spans[data.range];
      function series(key) {
        return data.points.map(function (p) { return [Date.parse(p.t), p[key]]; });
      }
      var common = {from: from, to: to, empty: box.getAttribute("data-empty"), locale: lang};
      // The disk that fills soonest is projected to the right of now, a quarter of the range ahead.
      var soonest = null;
      (data.forecasts || []).forEach(function (f) {
        if (f.full_at && f.used !== null && (!soonest || Date.parse(f.full_at) < Date.parse(soonest.full_at))) soonest = f;
      });
      var usage = Object.assign({min: 0, max: 100}, common);
      if (soonest) {
        usage.to = to + (to - from) / 4;
        usage.projection = {
          from: [Date.parse(soonest.computed_at), soonest.used], to: [Date.parse(soonest.full_at), 100],
          color: "#d97706", label: soonest.mount + " · " + label("full") + " " + soonest.eta
        };
      }
      window.LanetChart.draw(document.getElementById("chart-usage"), [
        {label: label("cpu"), color: "#2563eb", points: series("cpu_usage")},
        {label: label("memory"), color: "#16a34a", points: series("memory_usage")},
        {label: label("disk"), color: "#d97706", points: series("disk_usage")}
      ], usage);
      window.LanetChart.draw(document.getElementById("chart-network"), [
        {label: label("network"), color: "#7c3aed", points: series("network_usage")}
      ], common);
      var now = data.now;
      setText("live-cpu", percent(now.cpu_usage));
      setText("live-memory", percent(now.memory_usage));
      setText("live-disk", percent(now.disk_usage));
      setText("live-alerts", String(now.open_alerts));
      var seen = document.querySelector("#live-last-seen time");
      if (seen && now.last_seen) { seen.setAttribute("datetime", now.last_seen); localTimes(seen.parentNode); }
      var badge = document.querySelector("#live-status .badge");
      if (badge) badge.className = "badge status-" + now.status;
      box.setAttribute("data-updated", new Date().toISOString());
    }

    function load() {
      fetch(url + "?range=" + range, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(render)
        .catch(function () { box.setAttribute("data-error", "1"); });
    }

    document.querySelectorAll("[data-range]").forEach(function (button) {
      button.addEventListener("click", function () {
        range = button.getAttribute("data-range");
        document.querySelectorAll("[data-range]").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
        load();
      });
    });
    load();
    setInterval(load, 1000 * Number(box.getAttribute("data-refresh") || 15));
  }

  function commandResult() {
    var box = document.getElementById("command");
    if (!box || box.getAttribute("data-final") === "true") return;
    var timer = setInterval(function () {
      fetch(box.getAttribute("data-url"), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (c) {
          setText("command-status", c.status);
          setText("command-exit", c.exit_code === null ? "—" : String(c.exit_code));
          setText("command-stdout", c.stdout || "");
          setText("command-stderr", c.stderr || "");
          setText("command-reason", c.reason || "—");
          if (c.final) { clearInterval(timer); box.setAttribute("data-final", "true"); }
        })
        .catch(function () {});
    }, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes();
    charts();
    commandResult();
  });
})();
