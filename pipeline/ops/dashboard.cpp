#include "pipeline/ops/dashboard.hpp"

namespace cotflow {

namespace {

// One document, nothing else to fetch: the operations port may be the only
// thing reachable (no CDN, no internet). Elements with an id are stable: the
// integration test reads them.
const char* const page = R"page(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cotflow dashboard</title>
<link rel="icon" href="data:,">
<style>
:root { --bg: #0f141a; --card: #171e27; --line: #273241; --text: #d9e0e8;
  --muted: #8896a7; --green: #3ccf7a; --red: #ff5d5d; --amber: #f2b33d;
  --blue: #4ea1ff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 16px;
  padding: 10px 16px; border-bottom: 1px solid var(--line); }
header h1 { font-size: 18px; margin: 0; letter-spacing: .5px; }
header .grow { flex: 1; }
.muted, small { color: var(--muted); font-weight: normal; }
.pill { padding: 1px 8px; border-radius: 10px; font-size: 12px;
  background: var(--line); }
.pill.ok { background: #1d4d33; color: #bdf5d3; }
.pill.bad { background: #5a2228; color: #ffd0d0; }
#notice { margin: 10px 16px 0; padding: 8px 12px; border-radius: 6px;
  background: #3b3117; color: #ffe3a6; }
main { padding: 12px 16px 16px; }
.tiles { display: grid; gap: 10px;
  grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); }
.tile, .card { background: var(--card); border: 1px solid var(--line);
  border-radius: 8px; padding: 10px 12px; }
.tile .label { color: var(--muted); font-size: 12px; }
.tile .value { font-size: 22px; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
.tile .sub { color: var(--muted); font-size: 12px;
  font-variant-numeric: tabular-nums; }
.grid { display: grid; gap: 10px; margin-top: 10px;
  grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); }
.card h2 { font-size: 14px; margin: 0 0 6px; display: flex; gap: 8px;
  align-items: center; }
.card h2 select { margin-left: auto; background: var(--bg);
  color: var(--text); border: 1px solid var(--line); border-radius: 4px; }
canvas { display: block; width: 100%; height: 170px; }
.empty { color: var(--muted); margin: 40px 0; text-align: center; }
.states { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 6px; }
.state { padding: 1px 8px; border-radius: 10px; font-size: 12px; }
.state.closed, .badge.running { background: #1d4d33; color: #bdf5d3; }
.state.open, .badge.failed { background: #5a2228; color: #ffd0d0; }
.state.half-open { background: #4d3d14; color: #ffe3a6; }
.tree, .tree ul { list-style: none; margin: 0; padding-left: 16px; }
.tree { padding-left: 0; max-height: 260px; overflow: auto; }
.tree li { margin: 2px 0; }
.tree .name { font-family: ui-monospace, monospace; }
.badge { padding: 0 6px; border-radius: 8px; font-size: 11px; margin: 0 6px; }
.failure { color: var(--red); font-size: 12px; margin-left: 6px; }
.wide { margin-top: 10px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%;
  font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid
  var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: normal; font-size: 12px; }
td.err { color: var(--red); white-space: normal; }
footer { padding: 0 16px 12px; color: var(--muted); font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>cotflow</h1>
  <span class="muted" id="version">-</span>
  <span class="pill" id="ready">-</span>
  <span class="muted">up <span id="uptime">-</span></span>
  <span class="muted">partitions <span id="partitions">-</span></span>
  <span class="pill" id="paused" hidden>PAUSED</span>
  <span class="grow"></span>
  <span class="pill" id="conn-status">connecting</span>
  <span class="muted">updated <span id="updated">-</span></span>
</header>
<div id="notice" hidden></div>
<main>
<section class="tiles">
  <div class="tile"><div class="label">records in</div>
    <div class="value" id="records-in">-</div>
    <div class="sub"><span id="rate-in">-</span> /s</div></div>
  <div class="tile"><div class="label">records out</div>
    <div class="value" id="records-out">-</div>
    <div class="sub"><span id="rate-out">-</span> /s</div></div>
  <div class="tile"><div class="label">dead-lettered / dropped</div>
    <div class="value"><span id="dead-lettered">-</span> /
      <span id="dropped">-</span></div>
    <div class="sub">in flight <span id="in-flight">-</span></div></div>
  <div class="tile"><div class="label">latency p50 / p95 / p99 ms</div>
    <div class="value"><span id="latency-p50">-</span> /
      <span id="latency-p95">-</span> / <span id="latency-p99">-</span></div>
    <div class="sub">all destinations, last second</div></div>
  <div class="tile"><div class="label">batch size (mean)</div>
    <div class="value" id="batch-mean">-</div>
    <div class="sub"><span id="batches">-</span> batches</div></div>
  <div class="tile"><div class="label">parking backlog</div>
    <div class="value" id="parking-backlog">-</div>
    <div class="sub">open breakers <span id="breakers-open">-</span></div></div>
</section>
<section class="grid">
  <div class="card"><h2>Throughput <small>records/s</small></h2>
    <canvas id="chart-throughput"></canvas></div>
  <div class="card"><h2>End-to-end latency <small>ms</small>
    <select id="latency-dest"><option value="">all destinations</option>
    </select></h2>
    <canvas id="chart-latency"></canvas></div>
  <div class="card"><h2>Batch size <small>records per batch</small></h2>
    <canvas id="chart-batch"></canvas></div>
  <div class="card"><h2>Circuit breakers</h2>
    <div class="states" id="breaker-states"></div>
    <canvas id="chart-breakers"></canvas>
    <p class="empty" id="breakers-empty" hidden>no TAK destinations</p></div>
  <div class="card"><h2>Parking backlog <small>records</small></h2>
    <canvas id="chart-parking"></canvas>
    <p class="empty" id="parking-empty" hidden>no TAK destinations</p></div>
  <div class="card"><h2>Supervision tree</h2>
    <div id="supervision" class="muted">-</div></div>
</section>
<section class="card wide"><h2>Destinations</h2>
  <table><thead><tr><th>name</th><th>kind</th><th>endpoint</th>
    <th>connected</th><th>events</th><th>events/s</th><th>queue</th>
    <th>reconnects</th><th>p50 / p95 / p99 ms</th><th>breaker</th>
    <th>backlog</th><th>last error</th></tr></thead>
  <tbody id="destinations"></tbody></table></section>
</main>
<footer>refreshes every second, keeps 2 minutes &middot; scrapes
  <span id="scrapes">0</span> &middot; script errors
  <span id="js-errors">0</span> <span id="last-error"></span></footer>
<script>
'use strict';
(function () {
  const HISTORY_S = 120;
  const PERIOD_MS = 1000;
  const STATES = ['closed', 'open', 'half-open'];
  const STATE_COLORS = ['#3ccf7a', '#ff5d5d', '#f2b33d'];
  const PALETTE = ['#4ea1ff', '#3ccf7a', '#f2b33d', '#c47cff', '#ff7aa8',
                   '#4dd4d4', '#ff9255', '#a5b84a'];
  const $ = (id) => document.getElementById(id);

  // Script errors are counted on the page too (the console is not always
  // looked at).
  let scriptErrors = 0;
  function noteError(what) {
    scriptErrors++;
    $('js-errors').textContent = String(scriptErrors);
    $('last-error').textContent = String(what).slice(0, 200);
  }
  window.addEventListener('error', (e) => noteError(e.message));
  window.addEventListener('unhandledrejection', (e) => noteError(e.reason));
  const consoleError = console.error.bind(console);
  console.error = function (...args) {
    noteError(args.map(String).join(' '));
    consoleError(...args);
  };

  const token = (() => {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) : '';
  })();

  // ---- Prometheus text exposition ----------------------------------------
  function number(text) {
    if (text === '+Inf') return Infinity;
    if (text === '-Inf') return -Infinity;
    return parseFloat(text);
  }

  function parseMetrics(text) {
    const byName = new Map();
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const space = line.indexOf(' ');
      const brace = line.indexOf('{');
      let name, labels = {}, rest;
      if (brace >= 0 && (space < 0 || brace < space)) {
        name = line.slice(0, brace);
        let i = brace + 1;
        while (i < line.length && line[i] !== '}') {
          const eq = line.indexOf('=', i);
          if (eq < 0 || line[eq + 1] !== '"') break;
          const key = line.slice(i, eq).trim();
          let j = eq + 2, value = '';
          while (j < line.length && line[j] !== '"') {
            if (line[j] === '\\' && j + 1 < line.length) {
              j++;
              value += line[j] === 'n' ? '\n' : line[j];
            } else {
              value += line[j];
            }
            j++;
          }
          labels[key] = value;
          i = j + 1;
          if (line[i] === ',') i++;
        }
        rest = line.slice(i + 1);
      } else if (space > 0) {
        name = line.slice(0, space);
        rest = line.slice(space + 1);
      } else {
        continue;
      }
      const value = number(rest.trim().split(/\s+/)[0]);
      if (!byName.has(name)) byName.set(name, []);
      byName.get(name).push({labels, value});
    }
    return byName;
  }

  function samples(m, name) {
    return m.get(name) || [];
  }

  function total(m, name, pred) {
    let sum = 0;
    for (const s of samples(m, name))
      if (!pred || pred(s.labels)) sum += s.value;
    return sum;
  }

  function byDestination(m, name) {
    const out = new Map();
    for (const s of samples(m, name))
      if (s.labels.destination !== undefined)
        out.set(s.labels.destination,
                (out.get(s.labels.destination) || 0) + s.value);
    return out;
  }

  // Cumulative histogram buckets (upper bound -> count), summed over the
  // samples whose destination is `dest` (all when empty).
  function buckets(m, name, dest) {
    const out = new Map();
    for (const s of samples(m, name + '_bucket')) {
      if (dest && s.labels.destination !== dest) continue;
      const le = number(s.labels.le);
      out.set(le, (out.get(le) || 0) + s.value);
    }
    return out;
  }

  // Quantiles of what a histogram observed between two scrapes, linear
  // inside a bucket as Prometheus' histogram_quantile (and cotflow top).
  function quantiles(before, now, name, dest, qs) {
    const a = buckets(before, name, dest), b = buckets(now, name, dest);
    const delta = [...b.entries()]
      .map(([le, c]) => [le, c - (a.get(le) || 0)])
      .sort((x, y) => x[0] - y[0]);
    if (!delta.length || !(delta[delta.length - 1][1] > 0))
      return qs.map(() => null);
    const count = delta[delta.length - 1][1];
    return qs.map((q) => {
      let prevLe = 0, prevCount = 0;
      for (const [le, c] of delta) {
        if (c >= q * count) {
          if (le === Infinity) return prevLe;
          const inBucket = c - prevCount;
          const f = inBucket > 0 ? (q * count - prevCount) / inBucket : 1;
          return prevLe + (le - prevLe) * f;
        }
        prevLe = le;
        prevCount = c;
      }
      return prevLe;
    });
  }

  function rate(before, now, dt, name, pred) {
    if (!(dt > 0)) return null;
    const d = total(now, name, pred) - total(before, name, pred);
    return d >= 0 ? d / dt : null; // a restart resets the counters
  }

  // ---- formatting ----------------------------------------------------------
  function fmtInt(v) {
    return v == null || !isFinite(v) ? '-' : String(Math.round(v));
  }
  function fmtRate(v) {
    if (v == null || !isFinite(v)) return '-';
    return v >= 100 ? v.toFixed(0) : v.toFixed(1);
  }
  function fmtMs(seconds) {
    if (seconds == null || !isFinite(seconds)) return '-';
    const ms = seconds * 1000;
    return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
  }
  function fmtAxis(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(v >= 1e7 ? 0 : 1) + 'M';
    if (v >= 1e3) return (v / 1e3).toFixed(v >= 1e4 ? 0 : 1) + 'k';
    if (v >= 10 || v === 0) return v.toFixed(0);
    return v.toPrecision(2);
  }
  function fmtUptime(s) {
    s = Math.floor(s);
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    const pad = (n) => String(n).padStart(2, '0');
    return (h ? h + 'h ' : '') + (h || m ? pad(m) + 'm ' : '')
      + pad(s % 60) + 's';
  }
  function setText(id, text) {
    const e = $(id);
    if (e.textContent !== text) e.textContent = text;
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- charts ------------------------------------------------------------
  function setup(canvas) {
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return null;
    const dpr = window.devicePixelRatio || 1;
    const cw = Math.round(w * dpr), ch = Math.round(h * dpr);
    if (canvas.width !== cw) canvas.width = cw;
    if (canvas.height !== ch) canvas.height = ch;
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';
    return {ctx, w, h};
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    // Four grid steps, each a round number.
    for (const f of [1, 2, 4, 6, 8, 10])
      if (f * p >= v) return f * p;
    return 10 * p;
  }

  const PAD = {l: 44, r: 8, t: 18, b: 18};

  function timeAxis(ctx, w, h, x) {
    ctx.fillStyle = '#8896a7';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'alphabetic';
    for (let s = HISTORY_S; s >= 0; s -= 30) {
      const px = x(lastT - s);
      ctx.fillText(s ? '-' + s + 's' : 'now',
                   Math.min(Math.max(px, PAD.l + 12), w - 14), h - 4);
    }
  }

  function legend(ctx, items) {
    let x = PAD.l;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    for (const [label, color] of items) {
      ctx.fillStyle = color;
      ctx.fillRect(x, 5, 10, 3);
      ctx.fillStyle = '#d9e0e8';
      ctx.fillText(label, x + 14, 7);
      x += 22 + ctx.measureText(label).width;
    }
  }

  // series: [{label, color, points: [[t, v or null], ...]}]
  function lineChart(canvas, series) {
    const g = setup(canvas);
    if (!g) return;
    const {ctx, w, h} = g;
    const t0 = lastT - HISTORY_S;
    const x = (t) => PAD.l + (w - PAD.l - PAD.r) * (t - t0) / HISTORY_S;
    let max = 0;
    for (const s of series)
      for (const [, v] of s.points)
        if (v != null && isFinite(v)) max = Math.max(max, v);
    max = niceMax(max);
    const y = (v) => PAD.t + (h - PAD.t - PAD.b) * (1 - v / max);
    ctx.strokeStyle = '#273241';
    ctx.lineWidth = 1;
    ctx.fillStyle = '#8896a7';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const v = max * i / 4, py = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(PAD.l, py);
      ctx.lineTo(w - PAD.r, py);
      ctx.stroke();
      ctx.fillText(fmtAxis(v), PAD.l - 6, py);
    }
    timeAxis(ctx, w, h, x);
    ctx.lineWidth = 1.6;
    ctx.lineJoin = 'round';
    for (const s of series) {
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.beginPath();
      let pen = false;
      const pts = s.points;
      for (let i = 0; i < pts.length; i++) {
        const [t, v] = pts[i];
        if (v == null || !isFinite(v) || t < t0) {
          pen = false;
          continue;
        }
        const px = x(t), py = y(v);
        if (pen) {
          ctx.lineTo(px, py);
        } else {
          ctx.moveTo(px, py);
          const next = pts[i + 1];
          if (!next || next[1] == null) ctx.fillRect(px - 1.5, py - 1.5, 3, 3);
        }
        pen = true;
      }
      ctx.stroke();
    }
    legend(ctx, series.map((s) => [s.label, s.color]));
  }

  // One row per destination, coloured by breaker state over time.
  function stateChart(canvas, names) {
    const g = setup(canvas);
    if (!g) return;
    const {ctx, w, h} = g;
    const t0 = lastT - HISTORY_S;
    const x = (t) => PAD.l + (w - PAD.l - PAD.r) * (t - t0) / HISTORY_S;
    const left = 90;
    const xs = (t) => left + (x(t) - PAD.l) * (w - left - PAD.r)
      / (w - PAD.l - PAD.r);
    const rows = Math.max(names.length, 1);
    const rowH = Math.min(28, (h - PAD.t - PAD.b) / rows);
    names.forEach((name, r) => {
      const top = PAD.t + r * rowH;
      ctx.fillStyle = '#d9e0e8';
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillText(name.length > 12 ? name.slice(0, 11) + '\u2026' : name,
                   left - 6, top + rowH / 2);
      ctx.fillStyle = '#1f2833';
      ctx.fillRect(left, top + 2, w - left - PAD.r, rowH - 4);
      for (let i = 0; i < history.length; i++) {
        const p = history[i];
        const s = p.breaker.get(name);
        if (s == null || p.t < t0) continue;
        // Each scrape colours the interval since the one before it.
        const from = i > 0 ? history[i - 1].t : p.t - 1;
        ctx.fillStyle = STATE_COLORS[s] || '#8896a7';
        const a = Math.floor(xs(Math.max(from, t0))), b = Math.ceil(xs(p.t));
        ctx.fillRect(a, top + 2, Math.max(b - a, 1), rowH - 4);
      }
    });
    ctx.textAlign = 'center';
    ctx.textBaseline = 'alphabetic';
    ctx.fillStyle = '#8896a7';
    for (let s = HISTORY_S; s >= 0; s -= 30)
      ctx.fillText(s ? '-' + s + 's' : 'now',
                   Math.min(Math.max(xs(lastT - s), left + 12), w - 14),
                   h - 4);
    legend(ctx, STATES.map((s, i) => [s, STATE_COLORS[i]]));
  }

  // ---- state -------------------------------------------------------------
  let prev = null;   // the previous scrape {t, m}
  let lastT = Date.now() / 1000;
  let scrapes = 0;
  const history = []; // one point per scrape after the first
  const colorOf = new Map();
  function destColor(name) {
    if (!colorOf.has(name))
      colorOf.set(name, PALETTE[colorOf.size % PALETTE.length]);
    return colorOf.get(name);
  }

  async function get(path, auth) {
    const headers = {};
    if (auth && token) headers.Authorization = 'Bearer ' + token;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 4000);
    try {
      const r = await fetch(path, {headers, cache: 'no-store',
                                   signal: abort.signal});
      return {status: r.status, body: await r.text()};
    } catch (e) {
      return {status: 0, body: '', error: String((e && e.message) || e)};
    } finally {
      clearTimeout(timer);
    }
  }

  function json(reply) {
    if (reply.status !== 200) return null;
    try {
      return JSON.parse(reply.body);
    } catch (e) {
      return null;
    }
  }

  function setConn(ok, text) {
    const e = $('conn-status');
    e.className = 'pill ' + (ok ? 'ok' : 'bad');
    setText('conn-status', text);
  }

  function showNotice(text) {
    const n = $('notice');
    n.hidden = !text;
    setText('notice', text || '');
  }

  async function refresh() {
    const [mr, sr, vr] = await Promise.all([
      get('metrics', false), get('status', true), get('supervision', true)]);
    const t = Date.now() / 1000;
    if (mr.status !== 200) {
      setConn(false, 'metrics: ' + (mr.error || 'HTTP ' + mr.status));
      return;
    }
    setConn(true, 'live');
    const m = parseMetrics(mr.body);
    const status = json(sr), tree = json(vr);
    if (sr.status === 401 || vr.status === 401)
      showNotice('/status and /supervision need the bearer token: open this '
                 + 'page as /#token=<token>.');
    else if (!status || !tree)
      showNotice('/status or /supervision did not answer: '
                 + (sr.error || vr.error || 'HTTP ' + sr.status + ' / '
                    + vr.status));
    else
      showNotice('');
    scrapes++;
    lastT = t;
    const takDests = [...byDestination(m, 'cotflow_breaker_state').keys()];
    const latencyDests = [...new Set(
      samples(m, 'cotflow_end_to_end_latency_seconds_count')
        .map((s) => s.labels.destination))];
    if (prev) {
      const dt = t - prev.t;
      const lat = new Map();
      for (const d of [''].concat(latencyDests))
        lat.set(d, quantiles(prev.m, m, 'cotflow_end_to_end_latency_seconds',
                             d, [0.5, 0.95, 0.99]));
      const dn = total(m, 'cotflow_batch_size_records_count')
        - total(prev.m, 'cotflow_batch_size_records_count');
      const ds = total(m, 'cotflow_batch_size_records_sum')
        - total(prev.m, 'cotflow_batch_size_records_sum');
      const eventsNow = byDestination(m, 'cotflow_destination_events_total');
      const eventsBefore = byDestination(prev.m,
                                         'cotflow_destination_events_total');
      const eventRates = new Map();
      for (const [d, v] of eventsNow) {
        const before = eventsBefore.get(d);
        eventRates.set(d, before != null && v >= before && dt > 0
                            ? (v - before) / dt : null);
      }
      history.push({
        t,
        rateIn: rate(prev.m, m, dt, 'cotflow_records_in_total'),
        rateOut: rate(prev.m, m, dt, 'cotflow_records_out_total'),
        lat,
        batchMean: dn > 0 ? ds / dn : null,
        batchP95: quantiles(prev.m, m, 'cotflow_batch_size_records', '',
                            [0.95])[0],
        backlog: byDestination(m, 'cotflow_parking_backlog_records'),
        breaker: byDestination(m, 'cotflow_breaker_state'),
        eventRates,
      });
      while (history.length && history[0].t < t - HISTORY_S - 1)
        history.shift();
    }
    prev = {t, m};
    render(m, status, tree, takDests, latencyDests);
  }

  let lastRender = null;
  function render(m, status, tree, takDests, latencyDests) {
    lastRender = [m, status, tree, takDests, latencyDests];
    const last = history.length ? history[history.length - 1] : null;
    setText('scrapes', String(scrapes));
    setText('updated', new Date(lastT * 1000).toTimeString().slice(0, 8));
    setText('records-in', fmtInt(total(m, 'cotflow_records_in_total')));
    setText('records-out', fmtInt(total(m, 'cotflow_records_out_total')));
    setText('dead-lettered',
            fmtInt(total(m, 'cotflow_records_dead_lettered_total')));
    setText('dropped', fmtInt(total(m, 'cotflow_records_dropped_total')));
    setText('in-flight', fmtInt(total(m, 'cotflow_in_flight_records')));
    setText('batches', fmtInt(total(m, 'cotflow_batches_total')));
    setText('rate-in', fmtRate(last && last.rateIn));
    setText('rate-out', fmtRate(last && last.rateOut));
    const q = (last && last.lat.get('')) || [null, null, null];
    setText('latency-p50', fmtMs(q[0]));
    setText('latency-p95', fmtMs(q[1]));
    setText('latency-p99', fmtMs(q[2]));
    setText('batch-mean',
            last && last.batchMean != null ? last.batchMean.toFixed(1) : '-');
    const noTak = takDests.length === 0;
    const breakers = byDestination(m, 'cotflow_breaker_state');
    const backlog = byDestination(m, 'cotflow_parking_backlog_records');
    setText('parking-backlog',
            noTak ? 'no TAK destinations'
                  : fmtInt([...backlog.values()].reduce((a, b) => a + b, 0)));
    setText('breakers-open', noTak ? '-' : String(
      [...breakers.values()].filter((s) => s !== 0).length));

    // Header, from /status.
    if (status) {
      setText('version', 'v' + status.version);
      setText('uptime', fmtUptime(status.uptime_s));
      setText('partitions', String(status.kafka.assigned_partitions));
      $('paused').hidden = !status.kafka.paused;
    }
    const ready = total(m, 'cotflow_ready') > 0;
    $('ready').className = 'pill ' + (ready ? 'ok' : 'bad');
    setText('ready', ready ? 'READY' : (status && status.draining
                                          ? 'DRAINING' : 'NOT READY'));

    // Latency destination choice.
    const select = $('latency-dest');
    const have = new Set([...select.options].map((o) => o.value));
    for (const d of latencyDests)
      if (!have.has(d)) {
        const o = el('option', '', d);
        o.value = d;
        select.appendChild(o);
      }
    const chosen = select.value;

    const pts = (f) => history.map((p) => [p.t, f(p)]);
    lineChart($('chart-throughput'), [
      {label: 'in', color: '#4ea1ff', points: pts((p) => p.rateIn)},
      {label: 'out', color: '#3ccf7a', points: pts((p) => p.rateOut)},
    ]);
    const latAt = (p, i) => {
      const v = p.lat.get(chosen);
      return v && v[i] != null ? v[i] * 1000 : null;
    };
    lineChart($('chart-latency'), [
      {label: 'p50', color: '#4ea1ff', points: pts((p) => latAt(p, 0))},
      {label: 'p95', color: '#f2b33d', points: pts((p) => latAt(p, 1))},
      {label: 'p99', color: '#ff5d5d', points: pts((p) => latAt(p, 2))},
    ]);
    lineChart($('chart-batch'), [
      {label: 'mean', color: '#4ea1ff', points: pts((p) => p.batchMean)},
      {label: 'p95', color: '#c47cff', points: pts((p) => p.batchP95)},
    ]);

    // Breakers and parking (TAK destinations only).
    $('breakers-empty').hidden = !noTak;
    $('parking-empty').hidden = !noTak;
    $('chart-breakers').hidden = noTak;
    $('chart-parking').hidden = noTak;
    const states = $('breaker-states');
    states.replaceChildren(...takDests.map((d) => {
      const s = STATES[breakers.get(d)] || 'unknown';
      const e = el('span', 'state ' + s, d + ': ' + s);
      e.dataset.destination = d;
      return e;
    }));
    if (!noTak) {
      stateChart($('chart-breakers'), takDests);
      lineChart($('chart-parking'), takDests.map((d) => ({
        label: d, color: destColor(d),
        points: pts((p) => p.backlog.has(d) ? p.backlog.get(d) : null)})));
    }

    renderDestinations(m, status, last);
    renderTree(tree);
  }

  function renderDestinations(m, status, last) {
    const rows = [];
    const info = new Map();
    if (status)
      for (const d of status.destinations) info.set(d.name, d);
    const names = [...byDestination(m, 'cotflow_destination_events_total')
                     .keys()];
    const of = (name, metric) => byDestination(m, metric).get(name);
    for (const name of names) {
      const d = info.get(name) || {};
      const sample = samples(m, 'cotflow_destination_events_total')
        .find((s) => s.labels.destination === name);
      const kind = (sample && sample.labels.kind) || d.kind || '';
      const q = (last && last.lat.get(name)) || [null, null, null];
      const b = of(name, 'cotflow_breaker_state');
      const tr = el('tr');
      tr.dataset.destination = name;
      const cells = [
        name, kind, d.endpoint || '',
        of(name, 'cotflow_destination_connected') ? 'yes' : 'NO',
        fmtInt(of(name, 'cotflow_destination_events_total')),
        fmtRate(last && last.eventRates.get(name)),
        fmtInt(of(name, 'cotflow_destination_queue_events')),
        fmtInt(of(name, 'cotflow_destination_reconnects_total')),
        fmtMs(q[0]) + ' / ' + fmtMs(q[1]) + ' / ' + fmtMs(q[2]),
        b == null ? '' : STATES[b] || String(b),
        b == null ? '' : fmtInt(of(name, 'cotflow_parking_backlog_records')),
      ];
      for (const c of cells) tr.appendChild(el('td', '', c));
      tr.appendChild(el('td', 'err', d.last_error || ''));
      rows.push(tr);
    }
    $('destinations').replaceChildren(...rows);
  }

  function treeNode(n) {
    const li = el('li');
    li.appendChild(el('span', 'name', n.name));
    li.appendChild(el('span', 'badge ' + n.state, n.state));
    li.appendChild(el('span', 'muted', 'restarts ' + n.restarts));
    if (n.last_failure) li.appendChild(el('span', 'failure', n.last_failure));
    if (n.children && n.children.length) {
      const ul = el('ul');
      for (const c of n.children) ul.appendChild(treeNode(c));
      li.appendChild(ul);
    }
    return li;
  }

  function renderTree(tree) {
    const box = $('supervision');
    if (!tree || !tree.name) {
      if (!box.firstChild || box.firstChild.nodeType !== Node.TEXT_NODE)
        box.replaceChildren(document.createTextNode('unavailable'));
      return;
    }
    const ul = el('ul', 'tree');
    ul.appendChild(treeNode(tree));
    box.replaceChildren(ul);
  }

  function tick() {
    const started = Date.now();
    refresh()
      .catch((e) => console.error('dashboard refresh failed:', e))
      .finally(() => setTimeout(
        tick, Math.max(100, PERIOD_MS - (Date.now() - started))));
  }

  // Redraw at once on a choice or a resize; the next scrape does anyway.
  const redraw = () => {
    if (lastRender) render(...lastRender);
  };
  $('latency-dest').addEventListener('change', redraw);
  window.addEventListener('resize', redraw);
  tick();
})();
</script>
</body>
</html>
)page";

} // namespace

const std::string& dashboard_html() {
  static const std::string html{page};
  return html;
}

void add_dashboard(http_server& http) {
  http.route(
    "/",
    [] {
      return http_response{200, "text/html; charset=utf-8", dashboard_html()};
    },
    true);
}

} // namespace cotflow
