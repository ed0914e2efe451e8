"""The dashboard: one static HTML page that polls ``/status`` every two seconds.

The header counts the failing and degraded sources; each row shows the source's health (a
degraded source's reason in full), new and re-delivered records, data freshness (the age of the
watermark) and when it runs next. Below 1000 px the less telling columns are dropped, so that
the page reads without scrolling sideways at 900 px.

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
  #summary .bad { color: #a33a0b; font-weight: 600; }
  #summary .warn { color: #8a5a00; font-weight: 600; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #e3e5ea;
           vertical-align: top; }
  td.name, .reason, .err { overflow-wrap: anywhere; }
  td.num, td.freshness, td.next-run { white-space: nowrap; }
  .health { display: inline-block; margin-top: .25rem; }
  .degraded { background: #fff1c2; color: #8a5a00; }
  .failing { background: #ffe3d6; color: #a33a0b; }
  .reason { color: #8a5a00; font-size: 12px; }
  .sub { color: #666; font-size: 12px; }
  @media (max-width: 1000px) {
    body { margin: .6rem; font-size: 13px; }
    th, td { padding: .35rem .35rem; }
    .wide { display: none; }
  }
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
    <th>source</th><th>state</th><th>records</th><th>pages</th>
    <th title="records per second over the last minute">rec/s</th>
    <th class="wide">last 5 min</th><th>429 / retry</th><th class="wide">breaker</th>
    <th>errors</th><th title="age of the newest delivered record">freshness</th>
    <th>next run</th><th>last success</th>
  </tr></thead>
  <tbody id="sources"></tbody>
</table>
<section id="fleet" hidden>
<h2>fleet</h2>
<div id="fleet-summary"></div>
<table>
  <thead><tr>
    <th>source</th><th>held by</th><th title="fencing epoch">epoch</th><th>last run</th>
    <th>outcome</th><th>stalls recovered</th>
  </tr></thead>
  <tbody id="fleet-sources"></tbody>
</table>
</section>
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
  return span(now - t) + " ago";
}

function span(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return s + "s";
  if (s < 7200) return Math.round(s / 60) + "m";
  if (s < 172800) return Math.round(s / 3600) + "h";
  return Math.round(s / 86400) + "d";
}

function cell(row, value, cls) {
  const td = text("td", value, cls);
  row.appendChild(td);
  return td;
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

function summary(status) {
  const t = status.totals;
  const el = document.getElementById("summary");
  el.replaceChildren();
  const parts = [
    [status.sources.length + " sources", ""],
    [t.failing + " failing", t.failing ? "bad" : ""],
    [t.degraded + " degraded", t.degraded ? "warn" : ""],
    [t.records + " records (" + t.stored + " new, " + t.duplicates + " duplicates)", ""],
    [t.pages + " pages", ""],
    [t.errors + " errors", ""],
    [status.ready ? "ready" : "not ready", ""],
  ];
  if (status.stopping) parts.push(["stopping", "warn"]);
  parts.forEach(([value, cls], i) => {
    if (i) el.appendChild(document.createTextNode(" · "));
    el.appendChild(text("span", value, cls));
  });
}

function render(status) {
  summary(status);
  const body = document.getElementById("sources");
  body.replaceChildren();
  for (const s of status.sources) {
    const row = document.createElement("tr");
    row.dataset.source = s.name;
    row.appendChild(text("td", s.name, "name"));
    const state = document.createElement("td");
    const shown = s.state.replace("_", " ");
    const label = s.dev_mode ? shown + " (dev mode)" : shown;
    state.appendChild(text("span", label, "state " + s.state));
    if (s.health !== "ok") state.appendChild(text("span", s.health, "state health " + s.health));
    if (s.degraded) state.appendChild(text("div", s.degraded, "reason"));
    row.appendChild(state);
    const records = cell(row, s.records, "records");
    records.appendChild(text("div", s.stored + " new · " + s.duplicates + " dup", "sub counts"));
    cell(row, s.pages, "num pages");
    cell(row, s.throughput_1m.toFixed(2), "num throughput");
    const sp = cell(row, "", "wide");
    sp.appendChild(spark(s.series_10s));
    cell(row, s.http_429 + " / " + s.retries, "num retries");
    cell(row, s.breaker_state, "wide");
    const errs = document.createElement("td");
    const kinds = Object.entries(s.errors).map(([k, n]) => k + ": " + n).join(", ");
    errs.appendChild(text("div", kinds || "none", "errors"));
    if (s.last_error) errs.appendChild(text("div", s.last_error, "err"));
    if (s.callbacks_pending || s.callbacks_delivered || s.callbacks_failed
        || s.callbacks_dead_lettered) {
      const waiting = s.callbacks_pending
        ? s.callbacks_pending + " waiting (oldest " + span(s.callbacks_lag) + ")" : "none waiting";
      const lost = s.callbacks_dead_lettered
        ? " · " + s.callbacks_dead_lettered + " dead-lettered" : "";
      errs.appendChild(text("div", "callbacks: " + waiting + " · " + s.callbacks_delivered
        + " delivered · " + s.callbacks_failed + " failed" + lost,
        "sub callbacks" + (s.callbacks_dead_lettered ? " bad" : "")));
    }
    row.appendChild(errs);
    cell(row, s.watermark_age === null ? "no watermark" : span(s.watermark_age) + " old",
         "freshness");
    const next = s.state === "running" ? "running now"
      : s.next_run_in === null ? "not scheduled" : "in " + span(s.next_run_in);
    cell(row, next, "next-run");
    cell(row, ago(s.last_success, status.now), "num");
    body.appendChild(row);
  }
  renderFleet(status.fleet, status.now);
  document.body.dataset.updated = String(status.now);
  // whether the page reads without scrolling sideways at this width
  document.body.dataset.fits = String(document.documentElement.scrollWidth <= innerWidth);
}

function renderFleet(fleet, now) {
  // a `collectorkit worker` shows every source of the fleet: who holds it, its last run
  const section = document.getElementById("fleet");
  section.hidden = !fleet;
  if (!fleet) return;
  const held = Object.keys(fleet.held).length;
  document.getElementById("fleet-summary").textContent = "this worker: " + fleet.worker
    + " · " + held + " of " + fleet.sources.length + " sources running · "
    + fleet.stalls_recovered + " stalls recovered";
  const body = document.getElementById("fleet-sources");
  body.replaceChildren();
  for (const s of fleet.sources) {
    const row = document.createElement("tr");
    row.dataset.fleetSource = s.name;
    row.appendChild(text("td", s.name, "name"));
    row.appendChild(text("td", s.holder || "none", s.holder ? "holder" : "holder idle"));
    cell(row, s.epoch, "num");
    cell(row, s.last_run_age === null ? "never" : span(s.last_run_age) + " ago", "num");
    cell(row, s.last_outcome || "", s.last_outcome === "fenced" ? "err" : "");
    cell(row, s.stalls_recovered, "num");
    body.appendChild(row);
  }
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
