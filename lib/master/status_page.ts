/**
 * The live status page the master serves at `/` of --metrics-bind: one
 * self-contained HTML document that polls `/status.json` every second.
 * @module
 */

/** The page. No external assets: it works on a machine without the internet. */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>corral status</title>
<style>
  :root { --bg:#0f172a; --panel:#111c33; --line:#1e2b4a; --text:#e2e8f0; --dim:#94a3b8; --ok:#34d399; --warn:#fbbf24; --bad:#f87171; --accent:#60a5fa; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; align-items: baseline; gap: 16px; padding: 18px 28px; border-bottom: 1px solid var(--line); }
  header h1 { margin: 0; font-size: 20px; letter-spacing: .5px; }
  header .meta { color: var(--dim); }
  #live { margin-left: auto; color: var(--dim); }
  #live.on::before { content: "●"; color: var(--ok); margin-right: 6px; }
  #live.off::before { content: "●"; color: var(--bad); margin-right: 6px; }
  main { padding: 20px 28px; display: grid; gap: 20px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 14px; }
  .card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
  .card .label { color: var(--dim); font-size: 12px; text-transform: uppercase; letter-spacing: .6px; }
  .card .value { font-size: 26px; font-weight: 600; margin-top: 4px; font-variant-numeric: tabular-nums; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
  section h2 { margin: 0 0 10px; font-size: 13px; color: var(--dim); text-transform: uppercase; letter-spacing: .6px; font-weight: 600; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: right; padding: 7px 10px; border-bottom: 1px solid var(--line); }
  th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
  th { color: var(--dim); font-weight: 500; font-size: 12px; }
  .state { display: inline-block; padding: 1px 8px; border-radius: 99px; font-size: 12px; }
  .state.serving { background: rgba(52,211,153,.15); color: var(--ok); }
  .state.booting, .state.replacing { background: rgba(251,191,36,.15); color: var(--warn); }
  .state.stopping { background: rgba(248,113,113,.15); color: var(--bad); }
  svg { width: 100%; height: 180px; display: block; }
  .restarts { display: flex; flex-wrap: wrap; gap: 10px; }
  .restarts span { background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 6px 10px; }
  .muted { color: var(--dim); }
</style>
</head>
<body>
<header>
  <h1>corral</h1>
  <span class="meta" id="meta">connecting…</span>
  <span id="live" class="off">waiting</span>
</header>
<main>
  <div class="cards">
    <div class="card"><div class="label">Workers</div><div class="value" id="c-workers">–</div></div>
    <div class="card"><div class="label">Requests / s</div><div class="value" id="c-rps">–</div></div>
    <div class="card"><div class="label">Requests</div><div class="value" id="c-requests">–</div></div>
    <div class="card"><div class="label">In flight</div><div class="value" id="c-inflight">–</div></div>
    <div class="card"><div class="label">Restarts</div><div class="value" id="c-restarts">–</div></div>
    <div class="card"><div class="label">Uptime</div><div class="value" id="c-uptime">–</div></div>
  </div>
  <section>
    <h2>Requests per second, last two minutes <span class="muted" id="peak"></span></h2>
    <svg id="chart" viewBox="0 0 600 180" preserveAspectRatio="none" role="img" aria-label="requests per second"></svg>
  </section>
  <section>
    <h2>Workers</h2>
    <table>
      <thead><tr><th>pid</th><th>state</th><th>age</th><th>uptime</th><th>requests</th><th>req/s</th><th>in flight</th><th>RSS</th><th>heap</th></tr></thead>
      <tbody id="workers"><tr><td colspan="9" class="muted">no data yet</td></tr></tbody>
    </table>
  </section>
  <section>
    <h2>Restarts by reason</h2>
    <div class="restarts" id="restarts"><span class="muted">none</span></div>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const fmtBytes = (n) => n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : n >= 1024 ? (n / 1024).toFixed(0) + " KB" : n + " B";
const fmtSeconds = (s) => s >= 86400 ? Math.floor(s / 86400) + "d " + Math.floor(s % 86400 / 3600) + "h" :
  s >= 3600 ? Math.floor(s / 3600) + "h " + Math.floor(s % 3600 / 60) + "m" : s >= 60 ? Math.floor(s / 60) + "m " + (s % 60) + "s" : s + "s";
const fmtInt = (n) => Math.round(n).toLocaleString("en-US");
function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
function drawChart(history) {
  const svg = $("chart");
  const w = 600, h = 180, pad = 4;
  const points = history.slice(-120);
  const max = Math.max(1, ...points.map((p) => p.rps));
  const x = (i) => points.length < 2 ? w : (i / (points.length - 1)) * w;
  const y = (v) => h - pad - (v / max) * (h - 2 * pad);
  let line = "", area = "";
  points.forEach((p, i) => { line += (i ? " L" : "M") + x(i).toFixed(1) + " " + y(p.rps).toFixed(1); });
  if (points.length) area = line + " L" + w + " " + h + " L0 " + h + " Z";
  $("peak").textContent = "· peak " + fmtInt(max);
  svg.innerHTML = '<line x1="0" y1="' + (h - pad) + '" x2="' + w + '" y2="' + (h - pad) + '" stroke="#1e2b4a"/>' +
    '<path d="' + area + '" fill="rgba(96,165,250,.15)"/>' +
    '<path d="' + line + '" fill="none" stroke="#60a5fa" stroke-width="2" vector-effect="non-scaling-stroke"/>';
}
function render(s) {
  $("meta").textContent = "corral " + s.version + " · " + s.runtime + " · master pid " + s.pid;
  const serving = s.workers.filter((w) => w.state === "serving").length;
  $("c-workers").textContent = serving + " / " + s.targetWorkers;
  $("c-rps").textContent = fmtInt(s.history.length ? s.history[s.history.length - 1].rps : 0);
  $("c-requests").textContent = fmtInt(s.requests);
  $("c-inflight").textContent = fmtInt(s.workers.reduce((a, w) => a + w.inFlight, 0));
  const restarts = Object.entries(s.restarts);
  $("c-restarts").textContent = fmtInt(restarts.reduce((a, [, n]) => a + n, 0));
  $("c-uptime").textContent = fmtSeconds(Math.round((Date.now() - s.startedAt) / 1000));
  const body = $("workers");
  body.replaceChildren(...s.workers.map((w) => {
    const tr = document.createElement("tr");
    const state = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = "state " + w.state;
    badge.textContent = w.state;
    state.appendChild(badge);
    tr.append(cell(String(w.pid)), state, cell(String(w.age)), cell(fmtSeconds(w.uptimeSeconds)), cell(fmtInt(w.requests)),
      cell(w.requestsPerSecond.toFixed(1)), cell(String(w.inFlight)), cell(fmtBytes(w.rssBytes)), cell(fmtBytes(w.heapUsedBytes)));
    return tr;
  }));
  const box = $("restarts");
  box.replaceChildren(...(restarts.length ? restarts.map(([reason, n]) => {
    const span = document.createElement("span");
    span.textContent = reason.replace("_", " ") + ": " + n;
    return span;
  }) : [Object.assign(document.createElement("span"), { className: "muted", textContent: "none" })]));
  drawChart(s.history);
}
async function poll() {
  try {
    const res = await fetch("status.json", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    render(await res.json());
    $("live").className = "on"; $("live").textContent = "live";
  } catch (err) {
    $("live").className = "off"; $("live").textContent = "disconnected";
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
`;
