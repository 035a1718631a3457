/** The README's cause × proxy matrix is rendered from a recorded `lab --proxy all` run, never typed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderLabMatrix, type MatrixRun } from '../../src/report/index.js';

const fixture = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/lab-matrix.json', import.meta.url), 'utf8'),
) as { runs: MatrixRun[] };
const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

test('the README matrix is renderLabMatrix of the recorded run, every proxy of every scenario held its verdict', () => {
  const section = /<!-- matrix:start -->\n([\s\S]*?)<!-- matrix:end -->/.exec(readme)?.[1];
  assert.ok(section, 'README has the matrix markers');
  assert.equal(section, renderLabMatrix(fixture.runs));
  assert.ok(fixture.runs.every((r) => r.ok));
  assert.deepEqual([...new Set(fixture.runs.map((r) => r.proxy))], ['nginx', 'haproxy', 'caddy', 'builtin']);
});

test('each cell is the status the client got behind that proxy and the flag of its own log line', () => {
  const md = renderLabMatrix(fixture.runs);
  const row = (id: string): string => md.split('\n').find((l) => l.startsWith(`| \`${id}`))!;
  assert.equal(
    row('upstream-down'),
    '| `upstream-down` (node) | 502 `connect() to unix:…/app.sock failed (111: Connection refused) while connecting to upstream` | 503 `SC--` | 502 `dial unix …/app.sock: connect: connection refused` | 502 `connect() to unix:…/app.sock failed (111: Connection refused) while connecting to upstream` |',
  );
  assert.match(row('slow-upstream'), /\| 504 `sH--` \| 504 `net\/http: timeout awaiting response headers` \|/);
});
