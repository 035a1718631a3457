import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  renderLabJson,
  renderLabText,
  renderStatusCounts,
  renderTable,
  shortenTempPaths,
  shouldColor,
} from '../../src/report/index.js';
import { sampleReport } from './sample-report.js';

test('renderTable aligns columns, right-aligns numbers, keeps widths when styled', () => {
  const out = renderTable(
    [
      { header: 'NAME', cell: (r: { name: string; n: number }) => r.name, style: (t) => `\u001b[32m${t}\u001b[39m` },
      { header: 'N', cell: (r) => String(r.n), align: 'right' },
    ],
    [
      { name: 'a', n: 1000 },
      { name: 'longer', n: 7 },
    ],
  );
  const plain = out.replace(/\u001b\[\d+m/g, '');
  assert.equal(plain, 'NAME       N\na       1000\nlonger     7\n');
});

test('renderStatusCounts names 502 and 504 counts, or 0 × 502/504', () => {
  assert.equal(renderStatusCounts({ '200': 3, '502': 4, '504': 1 }), '4 × 502, 1 × 504');
  assert.equal(renderStatusCounts({ '200': 3 }), '0 × 502/504');
});

test('shortenTempPaths hides the per-run temp dir', () => {
  assert.equal(
    shortenTempPaths('connect() to unix:/tmp/bg-lab-Ab12Cd/app.sock failed'),
    'connect() to unix:…/app.sock failed',
  );
});

test('renderLabText: one row per scenario with the classified line, reasons of failed verdicts, skipped ones, summary', () => {
  const text = renderLabText(sampleReport());
  const lines = text.split('\n');
  assert.match(
    lines[0]!,
    /^SCENARIO\s+PROXY\s+UPSTREAM\s+FAIL PHASE\s+FIX PHASE\s+TIME\s+VERDICT\s+DOCTOR NAMES IT\s+PROXY LOG \(FAIL PHASE\)$/,
  );
  assert.match(
    lines[1]!,
    /^backlog-overflow-unix\s+nginx\s+node\s+90 × 502\s+0 × 502\/504 \(200 × 200\)\s+5\.2 s\s+ok\s+yes\s+\[error\] connect\(\) to unix:…\/app\.sock failed \(11: Resource temporarily unavailable\) while connecting to upstream$/,
  );
  assert.match(
    lines[2]!,
    /^slow-upstream\s+builtin\s+node\s+0 × 502\/504\s+5 × 504 \(5 × 200\)\s+4\.1 s\s+FAILED\s+no \(backlog-overflow-unix\)\s+\(no line of this cause\)$/,
  );
  // Columns line up: VERDICT starts at the same offset in every row.
  const at = lines[0]!.indexOf('VERDICT');
  assert.equal(lines[1]!.slice(at, at + 2), 'ok');
  assert.equal(lines[2]!.slice(at, at + 6), 'FAILED');
  assert.ok(text.includes('✗ slow-upstream (builtin, node) fail phase: no 502/504 seen\n'));
  assert.ok(text.includes('✗ slow-upstream (builtin, node) fix phase: 5 × 504\n'));
  assert.ok(text.includes('skipped keepalive-leak (gevent): python3-gevent is not installed\n'));
  assert.ok(text.endsWith('1 of 2 verdicts hold, 1 skipped (cannot run here) (9.3 s)\n'));
  assert.ok(!text.includes('\u001b['), 'no colour unless asked');
  assert.ok(renderLabText(sampleReport(), { color: true }).includes('\u001b[31mFAILED'));
});

test('shouldColor: only on a TTY without NO_COLOR', () => {
  assert.equal(shouldColor({ isTTY: true }, {}), true);
  assert.equal(shouldColor({ isTTY: false }, {}), false);
  assert.equal(shouldColor({}, {}), false);
  assert.equal(shouldColor({ isTTY: true }, { NO_COLOR: '1' }), false);
});

test('renderLabJson round-trips the report, named by its schema', () => {
  const report = sampleReport();
  assert.deepEqual(JSON.parse(renderLabJson(report)), { schema: 'badgateway.lab/v1', ...report });
});

test('renderLabText fits a terminal: the log line shortens first, then doctor says yes/no, then columns go; counts are never cut', () => {
  const report = sampleReport();
  const full = renderLabText(report);
  const widest = (text: string): number => Math.max(...text.split('\n').map((l) => l.length));
  assert.ok(widest(full) > 160, `full width when piped: ${widest(full)}`);
  assert.equal(renderLabText(report, { columns: Number.POSITIVE_INFINITY }), full);
  for (const columns of [160, 120, 100, 80, 60]) {
    const text = renderLabText(report, { columns });
    const table = text.split('\n').slice(0, 3).join('\n');
    assert.ok(widest(table) <= columns || columns < 80, `${columns}: ${widest(table)}\n${table}`);
    for (const count of ['backlog-overflow-unix', '90 × 502', '0 × 502/504', '5 × 504', 'FAILED']) {
      assert.ok(table.includes(count), `${columns} columns cut ${count}:\n${table}`);
    }
  }
  // 160: only the log line is shortened, ending in an ellipsis; 140: doctor's column says yes/no.
  const at160 = renderLabText(report, { columns: 160 }).split('\n');
  assert.match(at160[0]!, /DOCTOR NAMES IT\s+PROXY LOG \(FAIL PHASE\)$/);
  assert.match(at160[1]!, /\[error\] connect\(\) to unix:.*…$/);
  assert.match(at160[2]!, /no \(backlog-overflow-unix\)/);
  const at140 = renderLabText(report, { columns: 140 }).split('\n');
  assert.match(at140[2]!, /FAILED\s+no\s+\(no line of this cause\)$/);
  // 100: the log and doctor columns are gone before any count is touched; the proxy column stays (two proxies).
  const at100 = renderLabText(report, { columns: 100 }).split('\n');
  assert.match(at100[0]!, /^SCENARIO\s+PROXY\s+FAIL PHASE\s+FIX PHASE\s+TIME\s+VERDICT$/);
  assert.match(at100[1]!, /0 × 502\/504 \(200 × 200\)/);
  // 80: the fix phase keeps its 502/504 count only.
  const at80 = renderLabText(report, { columns: 80 }).split('\n');
  assert.match(at80[1]!, /^backlog-overflow-unix\s+nginx\s+90 × 502\s+0 × 502\/504\s+5\.2 s\s+ok$/);
  // One proxy and one upstream: those columns go and the summary line names them.
  const one = { ...report, scenarios: report.scenarios.map((s) => ({ ...s, proxy: 'nginx' as const })) };
  const narrow = renderLabText(one, { columns: 90 });
  assert.doesNotMatch(narrow.split('\n')[0]!, /PROXY\s+UPSTREAM/);
  assert.match(narrow, /1 of 2 verdicts hold \(behind nginx, node upstream\)/);
});

test('a scenario stopped by Ctrl-C shows INTERRUPTED, not FAILED', () => {
  const report = sampleReport();
  report.interrupted = true;
  const stopped = report.scenarios[1]!;
  stopped.interrupted = true;
  delete stopped.phases.fix;
  stopped.verdict = { ok: false, fail: { ok: false, reason: 'not reproduced' }, fix: { ok: false, reason: 'not run' } };
  const text = renderLabText(report);
  assert.match(text.split('\n')[2]!, /^slow-upstream\s+builtin\s+node\s+.*\s+INTERRUPTED\s+/);
  assert.doesNotMatch(text, /FAILED|✗ slow-upstream/);
  assert.ok(text.includes('■ slow-upstream (builtin, node) interrupted before its verdict\n'));
  assert.match(text, /1 of 2 verdicts hold, 1 skipped \(cannot run here\), interrupted \(9\.3 s\)\n$/);
});
