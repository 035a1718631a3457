import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { createPhaseCharts, escapeHtml, jsonForScript, renderLabHtml } from '../../src/report/index.js';
import { createTempDir } from '../../src/util/index.js';
import { samplePhase, sampleReport } from './sample-report.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

test('escapeHtml escapes the five characters', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
});

test('jsonForScript cannot close the script element', () => {
  const json = jsonForScript({ s: '</script><!-- \u2028' });
  assert.ok(!json.includes('<'));
  assert.deepEqual(JSON.parse(json), { s: '</script><!-- \u2028' });
});

test('createPhaseCharts: rate by status (per second), p50/p99 latency, fds and queue', () => {
  const [rate, latency, upstream] = createPhaseCharts(samplePhase('fail', { '200': 100, '502': 50 }, 1));
  assert.equal(rate!.x.length, 5);
  assert.deepEqual(rate!.series.map((s) => s.label), ['200', '502', 'error:ECONNRESET']);
  // 20 requests per 200 ms bucket = 100/s.
  assert.equal(rate!.series[0]!.values[0], 100);
  assert.equal(rate!.series[2]!.values[3], 5);
  assert.deepEqual(latency!.series.map((s) => s.label), ['p50', 'p99']);
  assert.equal(latency!.series[1]!.values[2], 16);
  assert.deepEqual(upstream!.series.map((s) => s.label), ['open fds', 'fd limit', 'listen queue', 'backlog']);
  assert.deepEqual(upstream!.series.map((s) => s.right ?? false), [false, false, true, true]);
});

test('createPhaseCharts leaves out a limit or backlog far above what was used (it would flatten the lines)', () => {
  const phase = samplePhase('fix', { '200': 10 }, 1);
  phase.samples = phase.samples.map((s) => ({ ...s, fdLimit: 20_000, listenQueue: 3, listenBacklog: 4096 }));
  const upstream = createPhaseCharts(phase)[2]!;
  assert.deepEqual(upstream.series.map((s) => s.label), ['open fds', 'listen queue']);
});

test('renderLabHtml is self-contained and escapes every text', () => {
  const html = renderLabHtml(sampleReport());
  assert.ok(!/<script[^>]+src=/i.test(html), 'no external script');
  assert.ok(!/<link\b/i.test(html), 'no external stylesheet');
  assert.ok(!/https?:\/\/(?!github\.com\/leeoniya)/.test(html.replace(/http:\/\/unix:/g, '')), 'no network URL besides the uPlot banner');
  assert.ok(!html.includes('<img src=x'), 'title escaped');
  assert.ok(!html.includes('<script>alert(1)</script>'), 'description escaped');
  assert.ok(html.includes('Slow upstream &#60;/h2&#62;&#60;img src=x onerror=alert(1)&#62;'));
  assert.ok(html.includes('connect() to unix:/tmp/bg-lab-Ab12Cd/app.sock failed (11: Resource temporarily unavailable)'));
  // Cause texts come from the catalogue.
  assert.ok(html.includes('raise the backlog (gunicorn --backlog 2048) and net.core.somaxconn, which caps it'));
  assert.equal((html.match(/class="chart"/g) ?? []).length, 12);
});

test('the HTML report loads in headless Chromium with no console error and draws every chart', { timeout: 60_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is not installed (apt-get install chromium; .ci/run does)`);
    return;
  }
  const { chromium } = await import('playwright-core');
  await using dir = await createTempDir('report');
  const file = dir.file('report.html');
  await writeFile(file, renderLabHtml(sampleReport()));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) problems.push(`network: ${r.url()}`);
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const charts = await page.evaluate(() => (globalThis as unknown as { __badgatewayCharts: unknown[] }).__badgatewayCharts.length);
    assert.equal(charts, 12);
    // Every chart canvas has drawn pixels (axes, grid and lines).
    // (A string, not a function: this package compiles without the DOM types.)
    const drawn = (await page.evaluate(`[...document.querySelectorAll('canvas')].map((c) => {
      const ctx = c.getContext('2d');
      if (!ctx || c.width === 0 || c.height === 0) return 0;
      const data = ctx.getImageData(0, 0, c.width, c.height).data;
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
      return painted;
    })`)) as number[];
    assert.equal(drawn.length, 12);
    for (const [i, painted] of drawn.entries()) assert.ok(painted > 500, `chart ${i} painted only ${painted} pixels`);
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});
