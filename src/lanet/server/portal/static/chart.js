/* LANET portal: line charts drawn as SVG, no third-party code (the portal works on closed networks).
 *
 * LanetChart.draw(svg, series, options)
 *   series:  [{label, color, points: [[epochMillis, value|null], ...]}]
 *   options: {min, max (null = from the data), from, to (epochMillis), empty (text), locale,
 *             projection: {from: [t, v], to: [t, v], color, label} (a dashed line, cut at the edge)}
 * A null value breaks the line. The svg gets data-points = the most points any one series drew.
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var W = 600, H = 200, LEFT = 42, RIGHT = 8, TOP = 10, BOTTOM = 22;

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceMax(value) {
    if (value <= 0) return 1;
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * power >= value) return steps[i] * power;
    return 10 * power;
  }

  function draw(svg, series, options) {
    options = options || {};
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    var values = [];
    series.forEach(function (s) { s.points.forEach(function (p) { if (p[1] !== null) values.push(p[1]); }); });
    var from = options.from, to = options.to;
    var min = options.min !== undefined && options.min !== null ? options.min : 0;
    var max = options.max !== undefined && options.max !== null ? options.max : niceMax(Math.max.apply(null, values.concat([0])));
    var plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
    function x(t) { return LEFT + (to > from ? (t - from) / (to - from) : 0) * plotW; }
    function y(v) { return TOP + plotH - ((v - min) / (max - min || 1)) * plotH; }

    for (var i = 0; i <= 4; i++) {
      var v = min + (max - min) * i / 4;
      svg.appendChild(el("line", {x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), "class": "grid"}));
      svg.appendChild(el("text", {x: LEFT - 4, y: y(v) + 4, "class": "axis", "text-anchor": "end"}, String(Math.round(v * 10) / 10)));
    }
    var fmt = new Intl.DateTimeFormat(options.locale || undefined, to - from > 86400000 * 1.5
      ? {weekday: "short", day: "numeric"} : {hour: "2-digit", minute: "2-digit"});
    for (var j = 0; j <= 4; j++) {
      var t = from + (to - from) * j / 4;
      svg.appendChild(el("text", {x: x(t), y: H - 6, "class": "axis", "text-anchor": j === 0 ? "start" : j === 4 ? "end" : "middle"}, fmt.format(new Date(t))));
    }

    var drawn = 0;
    series.forEach(function (s, index) {
      var runs = [[]], count = 0;
      s.points.forEach(function (p) {
        if (p[1] === null || p[1] === undefined) { if (runs[runs.length - 1].length) runs.push([]); return; }
        runs[runs.length - 1].push(x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1));
        count += 1;
      });
      drawn = Math.max(drawn, count);
      runs.forEach(function (run) {
        if (run.length === 1) {
          var xy = run[0].split(",");
          svg.appendChild(el("circle", {cx: xy[0], cy: xy[1], r: 2.5, fill: s.color, "class": "series"}));
        } else if (run.length > 1) {
          svg.appendChild(el("polyline", {points: run.join(" "), stroke: s.color, fill: "none", "stroke-width": 1.8, "class": "series"}));
        }
      });
      var lx = LEFT + 6 + index * 120;
      svg.appendChild(el("rect", {x: lx, y: TOP + 2, width: 10, height: 10, fill: s.color}));
      svg.appendChild(el("text", {x: lx + 14, y: TOP + 11, "class": "legend"}, s.label));
    });
    var p = options.projection;
    if (p && p.to[0] > p.from[0]) {
      // Cut the line where it leaves the plot, on the right or at the top.
      var endT = Math.min(p.to[0], to), slope = (p.to[1] - p.from[1]) / (p.to[0] - p.from[0]);
      var endV = Math.min(max, p.from[1] + slope * (endT - p.from[0]));
      if (endV < p.from[1] + slope * (endT - p.from[0])) endT = p.from[0] + (endV - p.from[1]) / slope;
      svg.appendChild(el("line", {x1: x(p.from[0]), y1: y(p.from[1]), x2: x(endT), y2: y(endV), stroke: p.color,
        "stroke-width": 1.8, "stroke-dasharray": "5 4", "class": "projection"}));
      svg.appendChild(el("text", {x: x(endT) - 2, y: Math.max(TOP + 24, y(endV) - 6), "class": "legend projection-label",
        "text-anchor": "end"}, p.label));
    }
    if (!drawn) {
      svg.appendChild(el("text", {x: W / 2, y: H / 2, "class": "empty", "text-anchor": "middle"}, options.empty || "—"));
    }
    svg.setAttribute("data-points", String(drawn));
  }

  window.LanetChart = {draw: draw};
})();
