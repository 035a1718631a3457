import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { createMetrics } from '../../src/load/index.js';
import {
  createPhaseCharts,
  escapeHtml,
  jsonForScript,
  renderCollapsedLines,
  renderLabHtml,
  renderLoadHtml,
} from '../../src/report/index.js';
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

/**
 * Opens `html` in headless Chromium and hands the page to `check`, with the console errors,
 * warnings, page errors and network requests it saw (there must be none). Skips without Chromium.
 */
async function inChromium(t: TestContext, html: string, check: (page: Page) => Promise<void>): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is not installed (apt-get install chromium; .ci/run does)`);
    return;
  }
  const { chromium } = await import('playwright-core');
  await using dir = await createTempDir('report');
  const file = dir.file('report.html');
  await writeFile(file, html);
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
    await check(page);
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
}

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
  assert.deepEqual(
    rate!.series.map((s) => s.label),
    ['200', '502', 'error:ECONNRESET'],
  );
  // 20 requests per 200 ms bucket = 100/s.
  assert.equal(rate!.series[0]!.values[0], 100);
  assert.equal(rate!.series[2]!.values[3], 5);
  assert.deepEqual(
    latency!.series.map((s) => s.label),
    ['p50', 'p99'],
  );
  assert.equal(latency!.series[1]!.values[2], 16);
  assert.deepEqual(
    upstream!.series.map((s) => s.label),
    ['open fds', 'fd limit', 'listen queue', 'backlog'],
  );
  assert.deepEqual(
    upstream!.series.map((s) => s.right ?? false),
    [false, false, true, true],
  );
  // Legends read totals while nothing is hovered; the three charts share one time range; counts are integers.
  assert.deepEqual(
    rate!.series.map((s) => s.summary),
    ['100 requests', '50 requests', '1 request'],
  );
  assert.deepEqual(
    latency!.series.map((s) => s.summary),
    ['3.00 ms overall', '20.0 ms overall'],
  );
  assert.deepEqual(
    upstream!.series.map((s) => s.summary),
    ['peak 25', '64', 'peak 5', '8'],
  );
  assert.deepEqual(rate!.xRange, [0, 1]);
  assert.deepEqual(latency!.xRange, rate!.xRange);
  assert.deepEqual(upstream!.xRange, rate!.xRange);
  assert.equal(upstream!.yInteger && upstream!.y2Integer, true);
});

test('renderCollapsedLines folds lines that differ only in numbers: the first two, then "… N more like this"', () => {
  const lines = [
    ...Array.from(
      { length: 6 },
      (_, i) => `2026/11/26 08:00:0${i} [error] 12#12: *${100 + i} connect() failed (111: Connection refused)`,
    ),
    '2026/11/26 08:00:09 [error] 12#12: *200 upstream timed out (110: Connection timed out)',
    '<script>',
  ];
  assert.equal(
    renderCollapsedLines(lines),
    [lines[0], lines[1], '<span class="more">… 4 more like this</span>', lines[6], '&#60;script&#62;'].join('\n'),
  );
});

test('createPhaseCharts leaves out a limit or backlog far above what was used (it would flatten the lines)', () => {
  const phase = samplePhase('fix', { '200': 10 }, 1);
  phase.samples = phase.samples.map((s) => ({ ...s, fdLimit: 20_000, listenQueue: 3, listenBacklog: 4096 }));
  const upstream = createPhaseCharts(phase)[2]!;
  assert.deepEqual(
    upstream.series.map((s) => s.label),
    ['open fds', 'listen queue'],
  );
});

test('renderLabHtml is self-contained and escapes every text', () => {
  const html = renderLabHtml(sampleReport());
  assert.ok(!/<script[^>]+src=/i.test(html), 'no external script');
  assert.ok(!/<link\b/i.test(html), 'no external stylesheet');
  assert.ok(
    !/https?:\/\/(?!github\.com\/leeoniya)/.test(html.replace(/http:\/\/unix:/g, '')),
    'no network URL besides the uPlot banner',
  );
  assert.ok(!html.includes('<img src=x'), 'title escaped');
  assert.ok(!html.includes('<script>alert(1)</script>'), 'description escaped');
  assert.ok(html.includes('Slow upstream &#60;/h2&#62;&#60;img src=x onerror=alert(1)&#62;'));
  assert.ok(
    html.includes('connect() to unix:/tmp/bg-lab-Ab12Cd/app.sock failed (11: Resource temporarily unavailable)'),
  );
  // Cause texts come from the catalogue.
  assert.ok(html.includes('raise the backlog (gunicorn --backlog 2048) and net.core.somaxconn, which caps it'));
  assert.equal((html.match(/class="chart"/g) ?? []).length, 12);
  // The catalogue's SOCKET and PID are the scenario's own in "Confirm by hand".
  assert.ok(html.includes('<code>ss -xlp | grep /tmp/bg-lab-Ab12Cd/app.sock</code>'), 'SOCKET filled in');
  assert.ok(
    !/<li><code>[^<]*\b(SOCKET|PID|PORT)\b/.test(html.split('Slow upstream')[0]!),
    'no placeholder left for the scenario with a known upstream',
  );
  // Seven lines of one kind: two shown, the rest folded.
  assert.equal(html.split('Resource temporarily unavailable) while connecting').length - 1, 2);
  assert.ok(html.includes('… 5 more like this'));
});

test('the HTML report loads in headless Chromium with no console error and draws every chart', {
  timeout: 60_000,
}, async (t) => {
  await inChromium(t, renderLabHtml(sampleReport()), async (page) => {
    const charts = await page.evaluate(
      () => (globalThis as unknown as { __badgatewayCharts: unknown[] }).__badgatewayCharts.length,
    );
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
    // Not hovered, the legends show totals and peaks, never uPlot's "--".
    const legends = (await page.evaluate(
      `[...document.querySelectorAll('.u-legend')].map((l) => l.textContent)`,
    )) as string[];
    assert.equal(legends.length, 12);
    assert.ok(
      legends.every((l) => !l.includes('--')),
      legends.join('\n'),
    );
    assert.equal(legends[0], 't (s)0–2 s200110 requests50290 requestserror:ECONNRESET1 request');
    assert.equal(legends[1], 't (s)0–2 sp503.00 ms overallp9920.0 ms overall');
    assert.match(legends[2]!, /open fdspeak 31/);
    const geometry = (await page.evaluate(`window.__badgatewayCharts.map((u) => ({
      x: [u.scales.x.min, u.scales.x.max],
      axes: u.axes.slice(1).map((a) => ({ splits: a._splits || [], size: a._size, need: a.labelSize + a.ticks.size + a.gap + Math.max(0, ...(a._values || []).map((v) => { u.ctx.font = a.font[0]; return u.ctx.measureText(String(v)).width / devicePixelRatio; })) })),
    }))`)) as { x: [number, number]; axes: { splits: number[]; size: number; need: number }[] }[];
    for (let phase = 0; phase < 4; phase++) {
      const [rate, latency, upstream] = geometry.slice(phase * 3, phase * 3 + 3);
      assert.deepEqual(latency!.x, rate!.x, `phase ${phase}: x ranges of rate and latency`);
      assert.deepEqual(upstream!.x, rate!.x, `phase ${phase}: x ranges of rate and upstream`);
      // Counts (fds, queued connections) get whole-number ticks.
      for (const axis of upstream!.axes)
        assert.ok(
          axis.splits.length > 0 && axis.splits.every((v) => Number.isInteger(v)),
          `phase ${phase}: ticks ${axis.splits.join(' ')}`,
        );
    }
    // Each y axis is as wide as its widest tick label plus its title: nothing is clipped.
    for (const [i, chart] of geometry.entries())
      for (const axis of chart.axes)
        assert.ok(axis.size >= axis.need, `chart ${i}: axis ${axis.size} px < ${axis.need} px`);
    // The repeated log line is folded.
    assert.match((await page.locator('pre').first().textContent()) ?? '', /… 5 more like this/);
  });
});

test("renderLoadHtml: a load run (or a summary of result files) gets the lab page's client charts, drawn in Chromium", {
  timeout: 60_000,
}, async (t) => {
  const metrics = createMetrics({ bucketMs: 500 });
  for (let i = 0; i < 400; i++) {
    metrics.add({
      seq: i,
      dueMs: i * 10,
      sentMs: i * 10 + 0.2,
      latencyMs: 1 + (i % 7),
      status: i % 10 === 0 ? 502 : 200,
      bytesIn: 3,
      bytesOut: 0,
      error: i === 5 ? 'ECONNRESET' : '',
    });
  }
  const summary = {
    ...metrics.close({ rateAsked: 100 }),
    files: 2,
    sources: { hosts: ['web-1', 'web-2'], aligned: 'own-start' as const, startedAt: null },
  };
  const html = renderLoadHtml(summary, { title: 'badgateway report a.ndjson <b>' });
  assert.ok(html.includes('<h1>badgateway report a.ndjson &#60;b&#62;</h1>'));
  assert.ok(html.includes('<tr><th>status codes</th><td>359 × 200, 40 × 502</td></tr>'));
  assert.ok(html.includes('2 files, hosts web-1 web-2, each from its own start'));
  assert.equal((html.match(/class="chart"/g) ?? []).length, 2);
  await inChromium(t, html, async (page) => {
    assert.equal(await page.evaluate(`window.__badgatewayCharts.length`), 2);
    const legends = (await page.evaluate(
      `[...document.querySelectorAll('.u-legend')].map((l) => l.textContent)`,
    )) as string[];
    assert.match(legends[0]!, /200359 requests/);
    assert.match(legends[0]!, /50240 requests/);
    assert.match(legends[0]!, /error:ECONNRESET1 request/);
  });
});
