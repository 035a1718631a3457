import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import http from 'node:http';
import { createDemoApp, DEMO_APP_DEFAULTS } from '../../src/app/index.js';
import { isBadgatewayError } from '../../src/errors/index.js';
import { createTempDir } from '../../src/util/index.js';
import { get, getJson, idleKeepAlive } from './http.js';

const T = { timeout: 15_000 };

test('/ answers 200 "ok" on 127.0.0.1 with the real port in the url', T, async () => {
  await using app = await createDemoApp();
  assert.ok(app.port !== undefined && app.port > 0);
  assert.equal(app.url, `http://127.0.0.1:${app.port}`);
  assert.equal(app.pid, process.pid);
  const r = await get(app.url, '/');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'ok\n');
  assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
});

test('an unknown path is 404', T, async () => {
  await using app = await createDemoApp();
  const r = await get(app.url, '/nope');
  assert.equal(r.status, 404);
  assert.equal(r.body, 'not found\n');
});

test('/sleep?ms= answers after the delay with the delay as JSON; a bad ms is 400', T, async () => {
  await using app = await createDemoApp();
  const started = Date.now();
  const r = await getJson(app.url, '/sleep?ms=60');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { sleptMs: 60 });
  assert.ok(Date.now() - started >= 55);
  const bad = await getJson(app.url, '/sleep?ms=abc');
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json, { error: 'ms: "abc" is not valid (expected an integer from 0 to 2147483647)' });
});

test('/fds reports this process: open, limit, ratio, byKind', T, async () => {
  await using app = await createDemoApp();
  const { status, json } = await getJson<{
    pid: number;
    open: number;
    limit: number;
    ratio: number;
    byKind: Record<string, number>;
    leaked: number;
  }>(app.url, '/fds');
  assert.equal(status, 200);
  assert.equal(json.pid, process.pid);
  assert.ok(json.open > 3);
  assert.equal(json.ratio, json.open / json.limit);
  assert.deepEqual(Object.keys(json.byKind).sort(), ['anon_inode', 'device', 'file', 'other', 'pipe', 'socket']);
  assert.equal(
    Object.values(json.byKind).reduce((a, b) => a + b, 0),
    json.open,
  );
  assert.equal(json.leaked, 0);
});

test('/leak?n= keeps n more fds open, /cleanup closes them', T, async () => {
  await using app = await createDemoApp();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const before = await getJson<{ open: number; byKind: { device: number } }>(app.url, '/fds', agent);
    const leak = await getJson(app.url, '/leak?n=5', agent);
    assert.equal(leak.status, 200);
    assert.equal(leak.json['leaked'], 5);
    assert.equal(leak.json['held'], 5);
    assert.equal(leak.json['error'], null);
    const after = await getJson<{ open: number; byKind: { device: number }; leaked: number }>(app.url, '/fds', agent);
    assert.equal(after.json.open, before.json.open + 5);
    assert.equal(after.json.byKind.device, before.json.byKind.device + 5);
    assert.equal(after.json.leaked, 5);
    const cleanup = await getJson(app.url, '/cleanup', agent);
    assert.equal(cleanup.json['closed'], 5);
    assert.equal(cleanup.json['open'], before.json.open);
    const bad = await getJson(app.url, '/leak?n=0', agent);
    assert.equal(bad.status, 400);
    assert.equal(
      bad.json['error'],
      `n: "0" is not valid (expected an integer from 1 to ${DEMO_APP_DEFAULTS.maxLeakCount})`,
    );
  } finally {
    agent.destroy();
  }
});

test('close() releases leaked fds', T, async () => {
  const app = await createDemoApp();
  const before = (await getJson<{ open: number }>(app.url, '/fds')).json.open;
  await getJson(app.url, '/leak?n=7');
  await app.close();
  await using probe = await createDemoApp();
  const after = (await getJson<{ open: number }>(probe.url, '/fds')).json.open;
  assert.ok(after <= before, `${after} fds open after close, ${before} before the leak`);
});

test('a unix socket gets mode 0666 and is removed by close()', T, async () => {
  await using dir = await createTempDir('app');
  const path = dir.file('a.sock');
  const app = await createDemoApp({ unixSocket: path });
  assert.equal(app.url, `unix:${path}`);
  assert.equal(app.unixSocket, path);
  assert.equal(app.port, undefined);
  assert.equal(statSync(path).mode & 0o777, 0o666);
  assert.equal((await get(app.url, '/')).body, 'ok\n');
  await app.close();
  assert.equal(existsSync(path), false);
});

test(
  "keepAliveTimeoutMs 0 never closes an idle socket, even across Node's headers/request timeout checks",
  T,
  async () => {
    // Make Node's periodic connection check run every 50 ms with tiny timeouts: idle keep-alive
    // sockets are not "in progress", so the check must leave them alone.
    await using app = await createDemoApp({ keepAliveTimeoutMs: 0, connectionsCheckingIntervalMs: 50 });
    app.server.headersTimeout = 100;
    app.server.requestTimeout = 150;
    const idle = await idleKeepAlive(app.url, 1500);
    assert.equal(idle.status, 'HTTP/1.1 200 OK');
    assert.equal(idle.closedAfterMs, null);
  },
);

test("keepAliveTimeoutMs 100 closes an idle socket after 100 ms plus Node 20's 1 s buffer", T, async () => {
  await using app = await createDemoApp({ keepAliveTimeoutMs: 100 });
  const idle = await idleKeepAlive(app.url, 4000);
  assert.equal(idle.status, 'HTTP/1.1 200 OK');
  // Node 20 sets the socket timeout to keepAliveTimeout + 1000 ms (HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER).
  assert.ok(idle.closedAfterMs !== null && idle.closedAfterMs >= 1090, String(idle.closedAfterMs));
});

test('the Keep-Alive header advertises the timeout in whole seconds; none with keepAliveTimeoutMs 0', T, async () => {
  for (const [ms, header] of [
    [5000, 'timeout=5'],
    [200, 'timeout=0'],
    [0, undefined],
  ] as const) {
    await using app = await createDemoApp({ keepAliveTimeoutMs: ms });
    const agent = new http.Agent({ keepAlive: true });
    try {
      const r = await get(app.url, '/', agent);
      assert.equal(r.headers['keep-alive'], header, String(ms));
      assert.equal(r.headers['connection'], 'keep-alive');
    } finally {
      agent.destroy();
    }
  }
});

test('close() drops idle keep-alive connections instead of waiting for them', T, async () => {
  const app = await createDemoApp({ keepAliveTimeoutMs: 0 });
  let answered!: () => void;
  const isAnswered = new Promise<void>((resolve) => (answered = resolve));
  const idle = idleKeepAlive(app.url, 5000, answered);
  await isAnswered;
  await app.close();
  const result = await idle;
  assert.notEqual(result.closedAfterMs, null);
});

test('bad options throw BG_BAD_OPTION naming the option', T, async () => {
  await assert.rejects(
    createDemoApp({ port: 65536 }),
    (err) =>
      isBadgatewayError(err, 'BG_BAD_OPTION') &&
      err.message === '--port: 65536 is not valid (expected an integer from 0 to 65535)',
  );
  await assert.rejects(
    createDemoApp({ backlog: 0 }),
    (err) => isBadgatewayError(err, 'BG_BAD_OPTION') && err.message.startsWith('--backlog: 0'),
  );
  await assert.rejects(
    createDemoApp({ keepAliveTimeoutMs: -1 }),
    (err) => isBadgatewayError(err, 'BG_BAD_OPTION') && err.message.startsWith('--keep-alive-timeout: -1'),
  );
  await assert.rejects(
    createDemoApp({ workMs: Number.NaN }),
    (err) => isBadgatewayError(err, 'BG_BAD_OPTION') && err.message.startsWith('--work-ms: NaN'),
  );
});

test('a port in use is BG_ADDRESS_IN_USE', T, async () => {
  await using first = await createDemoApp();
  await assert.rejects(
    createDemoApp({ port: first.port! }),
    (err) =>
      isBadgatewayError(err, 'BG_ADDRESS_IN_USE') &&
      err.message === `--port ${first.port}: 127.0.0.1:${first.port} is already in use (--port 0 picks a free port)`,
  );
});

test('a live unix socket is BG_ADDRESS_IN_USE and stays in place', T, async () => {
  await using dir = await createTempDir('app');
  await using first = await createDemoApp({ unixSocket: dir.file('a.sock') });
  await assert.rejects(
    createDemoApp({ unixSocket: first.unixSocket! }),
    (err) =>
      isBadgatewayError(err, 'BG_ADDRESS_IN_USE') &&
      err.message === `--unix-socket ${first.unixSocket}: another process is listening on it`,
  );
  assert.equal((await get(first.url, '/')).status, 200);
});

test('sync mode defaults to 50 ms of work per request, async to 0', () => {
  // resolveDemoAppOptions is what createDemoApp uses; checked through the app's options.
  return (async () => {
    await using asyncApp = await createDemoApp();
    assert.equal(asyncApp.options.workMs, 0);
    await using syncApp = await createDemoApp({ sync: true });
    assert.equal(syncApp.options.workMs, DEMO_APP_DEFAULTS.syncWorkMs);
    assert.equal(syncApp.options.sync, true);
  })();
});

test('an IPv6 host gets a bracketed url', T, async () => {
  await using app = await createDemoApp({ host: '::1' });
  assert.equal(app.url, `http://[::1]:${app.port}`);
  assert.equal((await get(app.url, '/')).body, 'ok\n');
});

test('a wildcard host is reached on loopback', T, async () => {
  await using app = await createDemoApp({ host: '0.0.0.0' });
  assert.equal(app.url, `http://127.0.0.1:${app.port}`);
});
