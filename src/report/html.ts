import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getCause } from '../causes/index.js';
import type { LabReport, PhaseResult, ScenarioResult } from '../lab/index.js';
import { renderClientOutcome, renderSeconds, renderStatusCounts } from './lab-text.js';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** JSON safe to put inside a `<script>` element: no `</script>`, no `<!--`, no JS line separators. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** One series of a chart: a label and one value per x (null = gap). */
export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
  dash?: boolean;
  /** Drawn against the chart's second y axis (right side). */
  right?: boolean;
}

/** A line chart drawn by uPlot in the page; x is seconds since the phase's load started. */
export interface ChartSpec {
  title: string;
  yLabel: string;
  /** Label of the right y axis, when a series uses it. */
  y2Label?: string;
  x: number[];
  series: ChartSeries[];
}

interface UplotAssets {
  js: string;
  css: string;
}

let assets: UplotAssets | undefined;

/** uPlot's minified build and stylesheet, read from the installed package (inlined: the report needs no network). */
export function readUplotAssets(): UplotAssets {
  if (!assets) {
    const require = createRequire(import.meta.url);
    // The package's exports map has no ./package.json; resolve the CommonJS entry (dist/uPlot.cjs.js) instead.
    const dist = require.resolve('uplot').replace(/[^/]+$/, '');
    assets = {
      js: readFileSync(`${dist}uPlot.iife.min.js`, 'utf8'),
      css: readFileSync(`${dist}uPlot.min.css`, 'utf8'),
    };
  }
  return assets;
}

const STATUS_COLORS: Record<string, string> = { '502': '#d62728', '504': '#9467bd', '503': '#ff7f0e', '500': '#8c564b' };

function statusColor(key: string): string {
  if (STATUS_COLORS[key]) return STATUS_COLORS[key];
  if (key.startsWith('2')) return '#2ca02c';
  if (key.startsWith('error:')) return '#7f7f7f';
  return '#17becf';
}

/** The charts of one phase: requests/s by status, latency p50/p99, upstream fds and listen queue. */
export function createPhaseCharts(phase: PhaseResult): ChartSpec[] {
  const timeline = phase.client.timeline;
  const bucketS = Math.max(1, phase.client.bucketMs) / 1000;
  const x = timeline.map((p) => p.tMs / 1000);
  const keys = new Set<string>();
  for (const p of timeline) {
    for (const [k, n] of Object.entries(p.statusCodes)) if (n > 0) keys.add(k);
    for (const [k, n] of Object.entries(p.errors)) if (n > 0) keys.add(`error:${k}`);
  }
  const sorted = [...keys].sort();
  const rate: ChartSpec = {
    title: 'Requests/s by status (client view)',
    yLabel: 'req/s',
    x,
    series: sorted.map((key) => ({
      label: key,
      color: statusColor(key),
      values: timeline.map((p) => {
        const n = key.startsWith('error:') ? p.errors[key.slice(6)] : p.statusCodes[key];
        return Math.round(((n ?? 0) / bucketS) * 10) / 10;
      }),
    })),
  };
  const latency: ChartSpec = {
    title: 'Latency from due time (ms)',
    yLabel: 'ms',
    x,
    series: [
      { label: 'p50', color: '#1f77b4', values: timeline.map((p) => p.p50) },
      { label: 'p99', color: '#d62728', values: timeline.map((p) => p.p99) },
    ],
  };
  const samples = phase.samples;
  const maxOf = (values: (number | null)[]): number => Math.max(0, ...values.filter((v): v is number => v !== null));
  const fds = samples.map((s) => s.fds);
  const queue = samples.map((s) => s.listenQueue);
  // A limit far above what was used (an inherited 20,000) would flatten the fd line: leave it out then.
  const showLimit = maxOf(samples.map((s) => s.fdLimit)) <= 4 * Math.max(1, maxOf(fds));
  const showBacklog = maxOf(samples.map((s) => s.listenBacklog)) <= 4 * Math.max(8, maxOf(queue));
  const upstream: ChartSpec = {
    title: 'Upstream: open fds (left) and listen queue (right)',
    yLabel: 'fds',
    y2Label: 'queued connections',
    x: samples.map((s) => s.tMs / 1000),
    series: [
      { label: 'open fds', color: '#1f77b4', values: fds },
      { label: 'fd limit', color: '#1f77b4', dash: true, values: showLimit ? samples.map((s) => s.fdLimit) : [] },
      { label: 'listen queue', color: '#ff7f0e', right: true, values: queue },
      { label: 'backlog', color: '#ff7f0e', dash: true, right: true, values: showBacklog ? samples.map((s) => s.listenBacklog) : [] },
      { label: 'in flight', color: '#2ca02c', right: true, values: samples.map((s) => s.inflight) },
    ].filter((s) => s.values.some((v) => v !== null)),
  };
  return [rate, latency, upstream];
}

const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1240px;padding:0 16px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:36px;border-top:1px solid #ccc;padding-top:16px}h3{font-size:15px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
.ok{color:#1a7f37;font-weight:600}.bad{color:#c62828;font-weight:600}.muted{color:#666}
.phases{display:grid;grid-template-columns:1fr 1fr;gap:16px}.phase{border:1px solid #e3e3e3;padding:8px 12px;border-radius:6px}
.chart{margin:8px 0;min-height:40px}.nochart{color:#666;font-style:italic}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:12px;white-space:pre-wrap;word-break:break-all}
code{background:#f6f8fa;padding:0 3px}
`;

/** Page script: draws every chart spec found in the page's JSON with uPlot. */
const SCRIPT = `
(function(){
  var specs = JSON.parse(document.getElementById('bg-charts').textContent);
  var charts = [];
  specs.forEach(function(spec, i){
    var el = document.getElementById('chart-' + i);
    if (!el) return;
    if (spec.x.length === 0 || spec.series.length === 0) { el.className += ' nochart'; el.textContent = spec.title + ': no data in this phase'; return; }
    var opts = {
      title: spec.title, width: 560, height: 220,
      scales: { x: { time: false }, y: { range: function(u, min, max){ return [0, Math.max(1, max * 1.05)]; } }, y2: { range: function(u, min, max){ return [0, Math.max(1, max * 1.05)]; } } },
      axes: [{ label: 's' }, { label: spec.yLabel, scale: 'y' }].concat(spec.series.some(function(s){ return s.right; }) ? [{ label: spec.y2Label, scale: 'y2', side: 1, grid: { show: false } }] : []),
      series: [{ label: 't (s)' }].concat(spec.series.map(function(s){
        return { label: s.label, scale: s.right ? 'y2' : 'y', stroke: s.color, width: 1.5, dash: s.dash ? [6, 4] : undefined, spanGaps: false, points: { show: spec.x.length < 40 } };
      }))
    };
    var data = [spec.x].concat(spec.series.map(function(s){ return s.values; }));
    charts.push(new uPlot(opts, data, el));
  });
  window.__badgatewayCharts = charts;
})();
`;

function renderPhase(phase: PhaseResult | undefined, name: string, charts: ChartSpec[], verdictOk: boolean, reason: string): string {
  if (!phase) return `<div class="phase"><h3>${escapeHtml(name)} phase</h3><p class="muted">not run</p></div>`;
  const chartDivs = createPhaseCharts(phase)
    .map((spec) => {
      charts.push(spec);
      return `<div class="chart" id="chart-${charts.length - 1}"></div>`;
    })
    .join('\n');
  const lat = phase.client.latenciesMs;
  const patterns = Object.entries(phase.proxyLog.byPattern)
    .sort((a, b) => b[1] - a[1])
    .map(([id, n]) => `<li><code>${escapeHtml(id)}</code> × ${escapeHtml(n)}</li>`)
    .join('');
  const lines = phase.proxyLog.classified.slice(0, 12).map((l) => escapeHtml(l.line)).join('\n');
  return `<div class="phase">
<h3>${escapeHtml(name)} phase: <span class="${verdictOk ? 'ok' : 'bad'}">${verdictOk ? 'as expected' : 'NOT as expected'}</span></h3>
<p>${escapeHtml(phase.description)}</p>
<p class="muted">${escapeHtml(reason)}</p>
<table>
<tr><th>client saw</th><td>${escapeHtml(renderClientOutcome(phase))}</td></tr>
<tr><th>502/504</th><td>${escapeHtml(renderStatusCounts(phase.client.statusCodes))}</td></tr>
<tr><th>requests</th><td>${escapeHtml(phase.client.requests)} at ${escapeHtml(phase.client.rate.asked)}/s asked, ${escapeHtml(
    phase.client.rate.achieved.toFixed(1),
  )}/s achieved</td></tr>
<tr><th>latency ms</th><td>p50 ${escapeHtml(lat.p50.toFixed(1))} · p99 ${escapeHtml(lat.p99.toFixed(1))} · max ${escapeHtml(lat.max.toFixed(1))}</td></tr>
<tr><th>phase time</th><td>${escapeHtml(renderSeconds(phase.durationMs))}</td></tr>
<tr><th>doctor named</th><td>${escapeHtml(
    phase.doctor ? (phase.doctor.error ? `could not inspect: ${phase.doctor.error}` : phase.doctor.causes.join(', ') || 'nothing (healthy)') : 'not run',
  )}</td></tr>
</table>
${phase.error ? `<p class="bad">error: ${escapeHtml(phase.error)}</p>` : ''}
${phase.notes.length > 0 ? `<ul>${phase.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
${chartDivs}
<h4>Proxy log: ${escapeHtml(phase.proxyLog.lines)} lines, ${escapeHtml(phase.proxyLog.causeLines)} of this cause</h4>
${patterns ? `<ul>${patterns}</ul>` : '<p class="muted">no upstream errors logged</p>'}
${lines ? `<pre>${lines}</pre>` : ''}
</div>`;
}

function renderScenario(s: ScenarioResult, charts: ChartSpec[]): string {
  const cause = getCause(s.causeId);
  const anchor = `${s.id}-${s.proxy}-${s.upstream}`;
  const causeHtml = cause
    ? `<h3>The cause: ${escapeHtml(cause.title)}</h3>
<p>${escapeHtml(cause.summary)}</p>
<p><b>Evidence to look for</b></p><ul>${cause.evidence.map((e) => `<li>${escapeHtml(e)}</li>`).join('')}</ul>
<p><b>Confirm by hand</b></p><ul>${cause.confirm.map((e) => `<li><code>${escapeHtml(e)}</code></li>`).join('')}</ul>
<p><b>Fix</b></p><ol>${cause.fix.map((e) => `<li>${escapeHtml(e)}</li>`).join('')}</ol>`
    : '';
  return `<section class="scenario" id="${escapeHtml(anchor)}">
<h2>${escapeHtml(s.id)} <span class="muted">behind ${escapeHtml(s.proxy)}, upstream ${escapeHtml(s.upstream)}</span>:
<span class="${s.verdict.ok ? 'ok' : 'bad'}">${s.verdict.ok ? 'verdict holds' : 'verdict FAILED'}</span></h2>
<p><b>${escapeHtml(s.title)}</b></p>
<p><b>How the lab provokes it:</b> ${escapeHtml(s.how)}</p>
<p><b>Fix applied in the fix phase:</b> ${escapeHtml(s.fix)}</p>
<div class="phases">
${renderPhase(s.phases.fail, 'fail', charts, s.verdict.fail.ok, s.verdict.fail.reason)}
${renderPhase(s.phases.fix, 'fix', charts, s.verdict.fix.ok, s.verdict.fix.reason)}
</div>
${causeHtml}
</section>`;
}

/**
 * The lab report as one self-contained HTML page (uPlot and its CSS inlined, no network): a summary
 * table, then per scenario the charts of each phase, the proxy's classified error lines, and the cause
 * and its fix from the catalogue. Every text is escaped.
 */
export function renderLabHtml(report: LabReport): string {
  const { js, css } = readUplotAssets();
  const charts: ChartSpec[] = [];
  const sections = report.scenarios.map((s) => renderScenario(s, charts)).join('\n');
  const rows = report.scenarios
    .map(
      (s) => `<tr><td><a href="#${escapeHtml(`${s.id}-${s.proxy}-${s.upstream}`)}">${escapeHtml(s.id)}</a></td><td>${escapeHtml(s.proxy)}</td><td>${escapeHtml(
        s.upstream,
      )}</td><td>${escapeHtml(renderStatusCounts(s.phases.fail.client.statusCodes))}</td><td>${escapeHtml(
        s.phases.fix ? renderStatusCounts(s.phases.fix.client.statusCodes) : 'not run',
      )}</td><td>${escapeHtml(renderSeconds(s.durationMs))}</td><td class="${s.verdict.ok ? 'ok' : 'bad'}">${s.verdict.ok ? 'ok' : 'FAILED'}</td></tr>`,
    )
    .join('\n');
  const skipped = report.skipped
    .map((s) => `<li>${escapeHtml(s.id)} (${escapeHtml(s.upstream)}${s.proxy ? `, ${escapeHtml(s.proxy)}` : ''}): ${escapeHtml(s.reason)}</li>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>badgateway lab report</title>
<style>${css}</style>
<style>${CSS}</style>
</head>
<body>
<h1>badgateway lab: <span class="${report.ok ? 'ok' : 'bad'}">${report.ok ? 'every verdict holds' : 'some verdicts FAILED'}</span></h1>
<p class="muted">started ${escapeHtml(report.startedAt)}, ${escapeHtml(renderSeconds(report.durationMs))}${report.interrupted ? ', interrupted' : ''}</p>
<table>
<tr><th>scenario</th><th>proxy</th><th>upstream</th><th>fail phase</th><th>fix phase</th><th>time</th><th>verdict</th></tr>
${rows}
</table>
${skipped ? `<p>Skipped:</p><ul>${skipped}</ul>` : ''}
${sections}
<script type="application/json" id="bg-charts">${jsonForScript(charts)}</script>
<script>${js}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
