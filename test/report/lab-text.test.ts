import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderLabJson, renderLabText, renderStatusCounts, renderTable, shortenTempPaths, shouldColor } from '../../src/report/index.js';
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
  assert.equal(shortenTempPaths('connect() to unix:/tmp/bg-lab-Ab12Cd/app.sock failed'), 'connect() to unix:…/app.sock failed');
});

test('renderLabText: one row per scenario with the classified line, reasons of failed verdicts, skipped ones, summary', () => {
  const text = renderLabText(sampleReport());
  const lines = text.split('\n');
  assert.match(lines[0]!, /^SCENARIO\s+PROXY\s+UPSTREAM\s+FAIL PHASE\s+FIX PHASE\s+TIME\s+VERDICT\s+DOCTOR NAMES IT\s+PROXY LOG \(FAIL PHASE\)$/);
  assert.match(lines[1]!, /^backlog-overflow-unix\s+nginx\s+node\s+90 × 502\s+0 × 502\/504 \(200 × 200\)\s+5\.2 s\s+ok\s+yes\s+\[error\] connect\(\) to unix:…\/app\.sock failed \(11: Resource temporarily unavailable\) while connecting to upstream$/);
  assert.match(lines[2]!, /^slow-upstream\s+builtin\s+node\s+0 × 502\/504\s+5 × 504 \(5 × 200\)\s+4\.1 s\s+FAILED\s+no \(backlog-overflow-unix\)\s+\(no line of this cause\)$/);
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

test('renderLabJson round-trips the report', () => {
  const report = sampleReport();
  assert.deepEqual(JSON.parse(renderLabJson(report)), report);
});
