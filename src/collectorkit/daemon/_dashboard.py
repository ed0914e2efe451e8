"""The dashboard: one static HTML page that polls ``/status`` every two seconds.

The page holds no data and no secret. When the status server needs a token, open the page as
``/#token=<token>``: the fragment never leaves the browser, and the script sends it as a bearer
header to ``/status``.
"""

from __future__ import annotations

__all__ = ["DASHBOARD_HTML"]

DASHBOARD_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>collectorkit dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330;
         background: #f6f7f9; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  #summary { color: #555; margin-bottom: 1rem; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #e3e5ea;
           vertical-align: top; }
  th { background: #eef0f4; font-weight: 600; }
  .state { font-weight: 600; padding: .1rem .45rem; border-radius: .6rem; font-size: 12px; }
  .running { background: #d8ecff; color: #0b5394; }
  .scheduled, .idle { background: #e3f5e1; color: #256029; }
  .backing_off { background: #ffe3d6; color: #a33a0b; }
  .stopped { background: #e6e6e6; color: #555; }
  .err { color: #a33a0b; font-size: 12px; }
  svg { vertical-align: middle; }
  #error { color: #a33a0b; }
</style>
</head>
<body>
<h1>collectorkit</h1>
<div id="summary">connecting…</div>
<div id="error"></div>
<table>
  <thead><tr>
    <th>source</th><th>state</th><th>records</th><th>pages</th><th>records/s (1 min)</th>
    <th>last 5 min</th><th>429s</th><th>retries</th><th>breaker</th><th>errors</th>
    <th>last success</th>
  </tr></thead>
  <tbody id="sources"></tbody>
</table>
<script>
"use strict";
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const headers = token ? {"Authorization": "Bearer " + token} : {};

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

function ago(t, now) {
  if (t === null || t === undefined) return "never";
  const s = Math.max(0, Math.round(now - t));
  return s < 120 ? s + "s ago" : Math.round(s / 60) + "m ago";
}

function spark(series) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", "120"); svg.setAttribute("height", "24");
  const max = Math.max(1, ...series);
  const step = 120 / Math.max(1, series.length - 1);
  const points = series.map((v, i) => (i * step).toFixed(1) + "," + (23 - 22 * v / max).toFixed(1));
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points.join(" "));
  line.setAttribute("fill", "none"); line.setAttribute("stroke", "#0b5394");
  svg.appendChild(line);
  return svg;
}

function render(status) {
  document.getElementById("summary").textContent =
    status.sources.length + " sources · " + status.totals.records + " records · " +
    status.totals.pages + " pages · " + status.totals.errors + " errors · " +
    (status.ready ? "ready" : "not ready") + (status.stopping ? " · stopping" : "");
  const body = document.getElementById("sources");
  body.replaceChildren();
  for (const s of status.sources) {
    const row = document.createElement("tr");
    row.dataset.source = s.name;
    row.appendChild(text("td", s.name));
    const state = document.createElement("td");
    const shown = s.state.replace("_", " ");
    const label = s.dev_mode ? shown + " (dev mode)" : shown;
    state.appendChild(text("span", label, "state " + s.state));
    row.appendChild(state);
    row.appendChild(text("td", s.records, "records"));
    row.appendChild(text("td", s.pages, "pages"));
    row.appendChild(text("td", s.throughput_1m.toFixed(2), "throughput"));
    const sp = document.createElement("td");
    sp.appendChild(spark(s.series_10s));
    row.appendChild(sp);
    row.appendChild(text("td", s.http_429));
    row.appendChild(text("td", s.retries));
    row.appendChild(text("td", s.breaker_state));
    const errs = document.createElement("td");
    const kinds = Object.entries(s.errors).map(([k, n]) => k + ": " + n).join(", ");
    errs.appendChild(text("div", kinds || "none", "errors"));
    if (s.last_error) errs.appendChild(text("div", s.last_error, "err"));
    row.appendChild(errs);
    row.appendChild(text("td", ago(s.last_success, status.now)));
    body.appendChild(row);
  }
  document.body.dataset.updated = String(status.now);
}

async function refresh() {
  try {
    const response = await fetch("status", {headers, cache: "no-store"});
    if (!response.ok) throw new Error("HTTP " + response.status + " from /status");
    render(await response.json());
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = String(e);
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"""
