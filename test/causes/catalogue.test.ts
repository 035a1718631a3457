import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CAUSES,
  CAUSE_IDS,
  PROXY_LOG_PATTERNS,
  classifyProxyLogLine,
  parseErrorLogLine,
  getCause,
} from '../../src/causes/index.js';
import { runCli } from '../../src/testing/index.js';

test('every cause id is in the catalogue once, and every cause names patterns that exist', () => {
  assert.deepEqual(
    CAUSES.map((c) => c.id),
    [...CAUSE_IDS],
  );
  const patternIds = new Set(PROXY_LOG_PATTERNS.map((p) => p.id));
  assert.equal(patternIds.size, PROXY_LOG_PATTERNS.length, 'pattern ids are unique');
  const patternById = new Map(PROXY_LOG_PATTERNS.map((p) => [p.id, p]));
  for (const cause of CAUSES) {
    assert.ok(cause.proxyLog.length > 0, `${cause.id} names at least one log pattern`);
    for (const id of cause.proxyLog) assert.ok(patternIds.has(id), `${cause.id} → unknown pattern ${id}`);
    // Derived from the patterns' side (regression: keepalive-leak's resets were missing on one side).
    for (const id of cause.proxyLog)
      assert.ok(patternById.get(id)?.causes.includes(cause.id), `${id} should name ${cause.id}`);
    assert.ok(cause.fix.length > 0 && cause.evidence.length > 0 && cause.confirm.length > 0, cause.id);
  }
  for (const p of PROXY_LOG_PATTERNS) {
    for (const id of p.causes) assert.ok(getCause(id), `${p.id} → unknown cause ${id}`);
    // A cause that a pattern stands for lists that pattern back, so docs and doctor agree.
    for (const id of p.causes) assert.ok(getCause(id)?.proxyLog.includes(p.id), `${id} should list ${p.id}`);
  }
  // The likeliest reading first: a read timeout is a slow upstream before anything else.
  assert.deepEqual(getCause('slow-upstream')?.proxyLog, ['read-timeout', 'send-timeout', 'body-timeout']);
  assert.deepEqual(getCause('fd-exhaustion')?.proxyLog, [
    'connect-timeout',
    'read-timeout',
    'premature-close',
    'recv-reset',
  ]);
});

test("each pattern's example line classifies as that pattern, with its status and level", () => {
  for (const p of PROXY_LOG_PATTERNS) {
    const c = classifyProxyLogLine(p.example);
    assert.ok(c, p.id);
    assert.equal(c.patternId, p.id);
    assert.equal(c.status, p.status);
    assert.equal(c.level, p.level, `${p.id}: example's level`);
  }
});

test('parseErrorLogLine splits time, level, pid, connection, message and context', () => {
  const line =
    '2026/11/26 08:12:01 [error] 4242#4242: *267 connect() to unix:/run/gunicorn.socket failed (11: Resource temporarily unavailable) while connecting to upstream, client: 172.17.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://unix:/run/gunicorn.socket:/", host: "localhost:6789"';
  assert.deepEqual(parseErrorLogLine(line), {
    time: '2026/11/26 08:12:01',
    level: 'error',
    pid: 4242,
    connection: 267,
    message:
      'connect() to unix:/run/gunicorn.socket failed (11: Resource temporarily unavailable) while connecting to upstream',
    client: '172.17.0.1',
    server: '_',
    request: 'GET / HTTP/1.1',
    upstream: 'http://unix:/run/gunicorn.socket:/',
    host: 'localhost:6789',
  });
  const c = classifyProxyLogLine(line);
  assert.equal(c?.patternId, 'connect-eagain');
  assert.deepEqual(c?.causes, ['backlog-overflow-unix']);
});

test('upstream errors matching no pattern are kept as unknown-upstream-error; other lines are not upstream errors', () => {
  const unknown = classifyProxyLogLine(
    '2026/11/26 08:12:01 [error] 1#1: *3 upstream sent invalid chunked response while reading upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:1/", host: "x"',
  );
  assert.equal(unknown?.patternId, 'unknown-upstream-error');
  assert.deepEqual(unknown?.causes, []);
  assert.equal(classifyProxyLogLine('2026/11/26 08:12:01 [notice] 1#1: start worker process 2'), undefined);
  assert.equal(classifyProxyLogLine('not a log line'), undefined);
  assert.equal(classifyProxyLogLine(''), undefined);
});

test('classifier never throws on random, truncated or huge input', () => {
  let seed = 42;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const examples = PROXY_LOG_PATTERNS.map((p) => p.example);
  for (let i = 0; i < 2000; i++) {
    const base = examples[i % examples.length]!;
    const cut = base.slice(0, Math.floor(rand() * base.length));
    const noise = Array.from({ length: Math.floor(rand() * 40) }, () =>
      String.fromCharCode(Math.floor(rand() * 0xffff)),
    ).join('');
    for (const line of [cut, noise, cut + noise, noise + base]) classifyProxyLogLine(line);
  }
  const huge = `${examples[0]!.slice(0, 60)}${'x'.repeat(1_000_000)}`;
  assert.doesNotThrow(() => classifyProxyLogLine(huge));
});

test('badgateway causes lists every cause; causes ID explains one; --json is the catalogue', async () => {
  const list = await runCli(['causes']);
  assert.equal(list.code, 0);
  const rows = list.stdout.split('\n');
  assert.match(rows[0]!, /^CAUSE\s+CLIENT SEES\s+WHAT IT IS$/);
  for (const id of CAUSE_IDS) assert.match(list.stdout, new RegExp(`^${id} `, 'm'));
  // Aligned: every title starts where the header's does.
  const at = rows[0]!.indexOf('WHAT IT IS');
  for (const row of rows.slice(1, 1 + CAUSE_IDS.length)) assert.match(row.slice(at - 2, at), /^ {2}$/, row);
  const one = await runCli(['causes', 'backlog-overflow-unix']);
  assert.equal(one.code, 0);
  assert.match(one.stdout, /Resource temporarily unavailable/);
  assert.match(one.stdout, /gunicorn --backlog 2048/);
  const json = JSON.parse((await runCli(['causes', '--json'])).stdout) as {
    schema: string;
    causes: { id: string }[];
    patterns: { id: string }[];
  };
  assert.equal(json.schema, 'badgateway.causes/v1');
  assert.equal(json.causes.length, CAUSES.length);
  assert.equal(json.patterns.length, PROXY_LOG_PATTERNS.length);
  const bad = await runCli(['causes', 'nope']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /nope/);
});

test("README's causes table is the one renderCausesMarkdown generates", async () => {
  const { readFileSync } = await import('node:fs');
  const { renderCausesMarkdown } = await import('../../src/causes/index.js');
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = /<!-- causes:start -->\n([\s\S]*?)<!-- causes:end -->/.exec(readme)?.[1];
  assert.equal(section, renderCausesMarkdown());
});
