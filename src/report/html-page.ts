import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ChartSpec } from './charts.js';

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

const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1240px;padding:0 16px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:36px;border-top:1px solid #ccc;padding-top:16px}h3{font-size:15px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
.ok{color:#1a7f37;font-weight:600}.bad{color:#c62828;font-weight:600}.muted{color:#666}
.phases{display:grid;grid-template-columns:1fr 1fr;gap:16px}.phase{border:1px solid #e3e3e3;padding:8px 12px;border-radius:6px}
.chart{margin:8px 0;min-height:40px}.nochart{color:#666;font-style:italic}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:12px;white-space:pre-wrap;word-break:break-all}
pre .more{color:#666;font-style:italic}
code{background:#f6f8fa;padding:0 3px}
`;

/**
 * Page script: draws every chart spec of the page's JSON with uPlot. While no point is hovered the
 * legend shows each series' summary (a total, a peak) instead of uPlot's `--`; the charts of one
 * phase share their x range; count axes get whole-number ticks; each axis is sized to its widest
 * tick label plus its title, so neither is clipped.
 */
const SCRIPT = `
(function(){
  var specs = JSON.parse(document.getElementById('bg-charts').textContent);
  var charts = [];
  var INTEGER_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000];
  function axisSize(self, values, axisIdx, cycleNum) {
    var axis = self.axes[axisIdx];
    if (cycleNum > 1) return axis._size;
    var size = axis.ticks.size + axis.gap + (axis.label ? axis.labelSize + axis.labelGap : 0);
    var longest = (values || []).reduce(function(acc, v){ return String(v).length > acc.length ? String(v) : acc; }, '');
    if (longest !== '') { self.ctx.font = axis.font[0]; size += self.ctx.measureText(longest).width / devicePixelRatio; }
    return Math.ceil(size) + 2;
  }
  function yAxis(label, scale, integer, side) {
    var a = { label: label, scale: scale, size: axisSize, labelSize: 16, labelGap: 4 };
    if (integer) { a.incrs = INTEGER_INCRS; a.values = function(u, splits){ return splits.map(function(v){ return String(Math.round(v)); }); }; }
    if (side) { a.side = side; a.grid = { show: false }; }
    return a;
  }
  function yRange(integer) {
    return function(u, min, max){ var top = Math.max(1, max * 1.05); return [0, integer ? Math.ceil(top) : top]; };
  }
  function legendValue(summary) {
    return function(u, v, seriesIdx, dataIdx){ return dataIdx == null ? summary : (v == null ? '-' : String(Math.round(v * 100) / 100)); };
  }
  specs.forEach(function(spec, i){
    var el = document.getElementById('chart-' + i);
    if (!el) return;
    if (spec.x.length === 0 || spec.series.length === 0) { el.className += ' nochart'; el.textContent = spec.title + ': no data'; return; }
    var hasRight = spec.series.some(function(s){ return s.right; });
    var opts = {
      title: spec.title, width: 560, height: 220,
      scales: {
        x: { time: false, range: function(){ return spec.xRange; } },
        y: { range: yRange(spec.yInteger) },
        y2: { range: yRange(spec.y2Integer) }
      },
      axes: [{ label: 's', labelSize: 16, labelGap: 0, size: axisSize }, yAxis(spec.yLabel, 'y', spec.yInteger)]
        .concat(hasRight ? [yAxis(spec.y2Label, 'y2', spec.y2Integer, 1)] : []),
      series: [{ label: 't (s)', value: legendValue(spec.xSummary) }].concat(spec.series.map(function(s){
        return { label: s.label, scale: s.right ? 'y2' : 'y', stroke: s.color, width: 1.5, dash: s.dash ? [6, 4] : undefined, spanGaps: false,
                 points: { show: spec.x.length < 40 }, value: legendValue(s.summary) };
      }))
    };
    var data = [spec.x].concat(spec.series.map(function(s){ return s.values; }));
    charts.push(new uPlot(opts, data, el));
  });
  window.__badgatewayCharts = charts;
})();
`;

/** Collects the chart specs of a page; each gets the `<div>` uPlot draws it into. */
export interface ChartCollector {
  readonly charts: ChartSpec[];
  /** Registers a chart and returns its placeholder element. */
  div(spec: ChartSpec): string;
}

export function createChartCollector(): ChartCollector {
  const charts: ChartSpec[] = [];
  return {
    charts,
    div(spec) {
      charts.push(spec);
      return `<div class="chart" id="chart-${charts.length - 1}"></div>`;
    },
  };
}

/**
 * One self-contained page (uPlot and its CSS inlined, no network) around `body`, with the script
 * that draws the collected charts. `body` must already be escaped.
 */
export function renderHtmlPage({
  title,
  body,
  charts,
}: {
  title: string;
  body: string;
  charts: readonly ChartSpec[];
}): string {
  const { js, css } = readUplotAssets();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${css}</style>
<style>${CSS}</style>
</head>
<body>
${body}
<script type="application/json" id="bg-charts">${jsonForScript(charts)}</script>
<script>${js}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/**
 * Log lines with the repeats folded: lines that differ only in numbers (times, pids, ports,
 * connection ids) form one group, shown by its first `keep` lines and `… N more like this`, in the
 * order each group first appeared. Returns escaped HTML for a `<pre>`.
 */
export function renderCollapsedLines(lines: readonly string[], keep = 2): string {
  const groups = new Map<string, { lines: string[]; more: number }>();
  for (const line of lines) {
    const key = line.replace(/\d+/g, '#');
    const group = groups.get(key) ?? { lines: [], more: 0 };
    if (group.lines.length < keep) group.lines.push(line);
    else group.more += 1;
    groups.set(key, group);
  }
  return [...groups.values()]
    .flatMap((g) => [
      ...g.lines.map(escapeHtml),
      ...(g.more > 0 ? [`<span class="more">… ${g.more} more like this</span>`] : []),
    ])
    .join('\n');
}
