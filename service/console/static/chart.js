// Alerts per day by severity as stacked bars, drawn as inline SVG with DOM calls (no chart
// library, nothing parsed as markup). The summary API counts by day for a minimum severity,
// so exact per-severity counts are differences of neighbouring minimums.

import { SEVERITIES, el, severityClass } from "./render.js";

const SVG = "http://www.w3.org/2000/svg";
const MAX_DAYS = 60;

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** {severity: {day: n}} exact counts from by_day of summaries at each minimum severity. */
export function exactByDay(atLeast) {
  const exact = {};
  SEVERITIES.forEach((severity, rank) => {
    const above = atLeast[SEVERITIES[rank + 1]] || {};
    exact[severity] = {};
    for (const [day, n] of Object.entries(atLeast[severity] || {})) {
      const own = n - (above[day] || 0);
      if (own > 0) exact[severity][day] = own;
    }
  });
  return exact;
}

/** Days from the first to the last with alerts (gaps shown as empty), at most MAX_DAYS. */
function dayRange(exact) {
  const days = new Set();
  for (const counts of Object.values(exact)) Object.keys(counts).forEach((d) => days.add(d));
  const sorted = [...days].filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d)).sort();
  if (!sorted.length) return [];
  const out = [];
  const end = new Date(`${sorted[sorted.length - 1]}T00:00:00Z`);
  const start = new Date(`${sorted[0]}T00:00:00Z`);
  for (let at = end; at >= start && out.length < MAX_DAYS; at = new Date(at.getTime() - 86400000)) {
    out.push(at.toISOString().slice(0, 10));
  }
  return out.reverse();
}

export function stackedBars(container, exact) {
  const days = dayRange(exact);
  container.replaceChildren();
  if (!days.length) {
    container.append(el("p", { className: "muted" }, "No alerts in this view."));
    return;
  }
  const width = 700;
  const height = 170;
  const left = 34;
  const bottom = 18;
  const top = 6;
  const totals = days.map((day) => SEVERITIES.reduce((sum, s) => sum + (exact[s][day] || 0), 0));
  const peak = Math.max(1, ...totals);
  const plot = height - bottom - top;
  const slot = (width - left) / days.length;
  const bar = Math.max(1, slot * 0.8);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "alerts per day by severity" });
  for (const fraction of [0, 0.5, 1]) {
    const y = top + plot * (1 - fraction);
    chart.append(svg("line", { x1: left, x2: width, y1: y, y2: y, class: "grid" }));
    chart.append(svg("text", { x: left - 4, y: y + 3, "text-anchor": "end", class: "axis" }, String(Math.round(peak * fraction))));
  }
  days.forEach((day, index) => {
    const x = left + index * slot + (slot - bar) / 2;
    let base = top + plot;
    for (const severity of SEVERITIES) {
      const n = exact[severity][day] || 0;
      if (!n) continue;
      const h = (n / peak) * plot;
      base -= h;
      const rect = svg("rect", { x, y: base, width: bar, height: h, class: severityClass(severity) });
      rect.append(svg("title", {}, `${day} ${severity}: ${n}`));
      chart.append(rect);
    }
    const every = Math.ceil(days.length / 8);
    if (index % every === 0) {
      chart.append(svg("text", { x: x + bar / 2, y: height - 4, "text-anchor": "middle", class: "axis" }, day.slice(5)));
    }
  });
  const legend = el("div", { className: "legend" },
    ...SEVERITIES.map((s) => el("span", {}, el("span", { className: `swatch ${severityClass(s)}` }), s)),
  );
  container.append(chart, legend);
}
