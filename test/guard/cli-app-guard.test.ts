/** `badgateway app --guard`: the real binary. (The fd-leak run is in reliability.test.ts.) */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, startCli } from '../../src/testing/index.js';
import { renderAppArgs } from '../../src/app/index.js';

test("app --guard prints the guard line; --guard-max-fd-ratio sets it; /metrics serves the guard's metrics", {
  timeout: 15_000,
}, async () => {
  const app = startCli(['app', '--port', '0', '--guard-max-fd-ratio', '0.75']);
  try {
    const [, url] = await app.waitForLine(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/);
    await app.waitForLine(/^guard: /);
    assert.match(
      app.stdout,
      /^guard: 503 \+ Retry-After from fd ratio 0\.75, idle keep-alive sockets reaped from 0\.8; Prometheus metrics on \/metrics$/m,
    );
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /^badgateway_process_max_fds \d+$/m);
    assert.match(text, /^badgateway_guard_requests_shed_total\{reason="fds"\} 0$/m);
  } finally {
    assert.equal((await app.stop()).code, 0);
  }
});

test('app without --guard has no /metrics (404)', { timeout: 15_000 }, async () => {
  const app = startCli(['app', '--port', '0']);
  try {
    const [, url] = await app.waitForLine(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/);
    assert.equal((await fetch(`${url}/metrics`)).status, 404);
  } finally {
    assert.equal((await app.stop()).code, 0);
  }
});

test('app --guard-max-fd-ratio out of range: one line, exit 2', async () => {
  const r = await runCli(['app', '--guard-max-fd-ratio', '1.5']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(
    r.stderr,
    /^badgateway app: option '--guard-max-fd-ratio <r>' argument '1\.5' is invalid\. expected a number greater than 0 and at most 1\.\n$/,
  );
});

test('spawnDemoApp({ guard }) maps to --guard and --guard-max-fd-ratio', () => {
  assert.deepEqual(renderAppArgs({ guard: true }), ['--port', '0', '--guard']);
  assert.deepEqual(renderAppArgs({ guard: { maxFdRatio: 0.8 } }), [
    '--port',
    '0',
    '--guard',
    '--guard-max-fd-ratio',
    '0.8',
  ]);
  assert.deepEqual(renderAppArgs({ guard: false }), ['--port', '0']);
});
