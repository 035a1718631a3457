import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import { spawnDemoApp } from '../../src/app/index.js';
import { readListenQueue } from '../../src/proc/index.js';
import { isBadgatewayError } from '../../src/errors/index.js';
import { createTempDir } from '../../src/util/index.js';
import { BIN, runCli, startCli } from '../../src/testing/index.js';
import { waitUntilBlocked } from '../helpers/waits.js';
import { get, getJson, idleKeepAlive, watchRaw } from './http.js';

/**
 * Runs `badgateway app ...` to completion, optionally as another user (to meet EACCES as root).
 * Asynchronous on purpose: the other tests of this file run meanwhile.
 */
function runApp(
  args: readonly string[],
  { uid, env }: { uid?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'app', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(uid !== undefined ? { uid, gid: uid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A unix socket file nobody listens on: a process that listened and died without unlinking it. */
function makeStaleSocket(path: string): void {
  execFileSync(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`,
  ]);
  assert.ok(statSync(path).isSocket());
}

describe('badgateway app', { concurrency: true }, () => {
  test('--help lists every option and has examples', { timeout: 10_000 }, async () => {
    const r = await runCli(['app', '--help']);
    assert.equal(r.code, 0);
    for (const flag of [
      '--port',
      '--host',
      '--unix-socket',
      '--backlog',
      '--keepalive-timeout',
      '--sync',
      '--work',
      '--fd-limit',
      '--json',
    ]) {
      assert.match(r.stdout, new RegExp(`^  ${flag} `, 'm'), flag);
    }
    assert.match(r.stdout, /^Examples:\n {2}\$ badgateway app --port 8080$/m);
    assert.doesNotMatch(r.stdout, /--keep-alive-timeout|--work-ms/, 'the old spellings are hidden');
  });

  test('the old spellings --keep-alive-timeout and --work-ms still work (bare numbers are ms there), with one deprecation line each', {
    timeout: 15_000,
  }, async () => {
    const app = startCli(['app', '--port', '0', '--keep-alive-timeout', '200', '--work-ms', '5']);
    try {
      await app.waitForLine(/^pid \d+, backlog 511, keep-alive timeout 200 ms, async, work 5 ms, fd limit \d+$/);
      assert.equal(
        app.stderr,
        'badgateway app: --keep-alive-timeout is deprecated; use --keepalive-timeout\nbadgateway app: --work-ms is deprecated; use --work\n',
      );
    } finally {
      assert.deepEqual(await app.stop('SIGTERM'), { code: 0, signal: null });
    }
  });

  test('--json prints the ready line as one JSON object a script can read', { timeout: 15_000 }, async () => {
    const app = startCli(['app', '--port', '0', '--json', '--keepalive-timeout', '1m30s', '--work', '20ms']);
    try {
      const [line] = await app.waitForLine(/^\{.*\}$/);
      const ready = JSON.parse(line) as Record<string, unknown>;
      assert.equal(ready['schema'], 'badgateway.app/v1');
      assert.equal(ready['event'], 'ready');
      assert.match(String(ready['url']), /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(ready['url'], `http://127.0.0.1:${ready['port']}`);
      assert.equal(ready['pid'], app.child.pid);
      assert.equal(ready['keepAliveTimeoutMs'], 90_000);
      assert.equal(ready['workMs'], 20);
      assert.equal(ready['guard'], null);
      assert.equal((await get(String(ready['url']), '/')).body, 'ok\n');
      assert.equal(app.stdout.trim().split('\n').length, 1, 'nothing but the JSON line');
    } finally {
      assert.deepEqual(await app.stop('SIGTERM'), { code: 0, signal: null });
    }
  });

  test('--port 0 prints the ready line with the real port, then the settings; SIGTERM exits 0', {
    timeout: 15_000,
  }, async () => {
    const app = startCli(['app', '--port', '0']);
    try {
      const m = await app.waitForLine(/^listening on http:\/\/127\.0\.0\.1:(\d+)$/);
      const port = Number(m[1]);
      assert.ok(port > 0);
      await app.waitForLine(/^pid \d+, backlog 511, keep-alive timeout 5000 ms, async, work 0 ms, fd limit \d+$/);
      assert.equal((await get(`http://127.0.0.1:${port}`, '/')).body, 'ok\n');
    } finally {
      assert.deepEqual(await app.stop('SIGTERM'), { code: 0, signal: null });
    }
    assert.equal(app.stdout.split('\n').filter(Boolean).length, 2, app.stdout);
    assert.equal(app.stderr, '');
  });

  test('at EMFILE (--fd-limit 64, /leak) /fds says ratio 1 and new connections are accepted and closed at once', {
    timeout: 20_000,
  }, async () => {
    await using app = await spawnDemoApp({ fdLimit: 64 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const leak = await getJson(app.url, '/leak?n=1000', agent);
      assert.equal(leak.status, 200);
      assert.equal(leak.json['error'], 'EMFILE');
      assert.ok((leak.json['leaked'] as number) > 30, String(leak.json['leaked']));
      const fds = await getJson<{
        pid: number;
        open: number;
        limit: number;
        ratio: number;
        byKind: { device: number };
      }>(app.url, '/fds', agent);
      assert.equal(fds.json.pid, app.pid);
      assert.equal(fds.json.limit, 64);
      // 64 open, less the reserve fd /fds gives back to read /proc: the fd readdir borrows for the listing
      // is counted only when another fd has taken its number again by the time it is readlink'ed (timing).
      assert.ok(fds.json.open === 63 || fds.json.open === 64, String(fds.json.open));
      assert.ok(fds.json.ratio >= 0.95);
      // libuv's EMFILE trick: it frees a reserve fd, accepts the pending connection and closes it.
      // The TCP handshake completes (the kernel did it), then the client gets a FIN, no byte.
      const raw = await watchRaw(app.url, 5000);
      assert.deepEqual(raw, { connected: true, bytes: 0, fin: true, error: null, open: false });
      // An HTTP client sees that as a reset before any response ("socket hang up").
      await assert.rejects(get(app.url, '/'), (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET');
      // The app survives and recovers once the leak is cleaned up (over the kept-alive connection).
      const cleanup = await getJson(app.url, '/cleanup', agent);
      assert.equal(cleanup.json['closed'], leak.json['held']);
      assert.equal((await get(app.url, '/')).body, 'ok\n');
    } finally {
      agent.destroy();
    }
    await app.close();
    assert.equal(app.child.exitCode, 0);
    assert.equal(app.stderr, '');
  });

  test('--sync --backlog 4 on a unix socket: while a request blocks, the accept queue fills (src/proc readListenQueue) and further connects get EAGAIN', {
    timeout: 20_000,
  }, async () => {
    await using dir = await createTempDir('app');
    const path = dir.file('q.sock');
    await using app = await spawnDemoApp({ unixSocket: path, sync: true, backlog: 4 });
    assert.equal(app.url, `unix:${path}`);
    const slow = get(app.url, '/sleep?ms=2500');
    await waitUntilBlocked(app.pid); // the app is now blocked inside /sleep
    const sockets: net.Socket[] = [];
    const outcomes = await Promise.all(
      Array.from(
        { length: 12 },
        () =>
          new Promise<string>((resolve) => {
            const s = net.connect({ path });
            sockets.push(s);
            s.on('connect', () => resolve('connected'));
            s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
          }),
      ),
    );
    const queue = await readListenQueue({ unixSocket: path }, { owners: false });
    for (const s of sockets) s.destroy();
    // A unix listener queues backlog + 1 connections; the kernel refuses the rest with EAGAIN,
    // which nginx logs as "connect() to unix:… failed (11: Resource temporarily unavailable)".
    assert.deepEqual(outcomes.filter((o) => o === 'connected').length, 5, outcomes.join(' '));
    assert.deepEqual(outcomes.filter((o) => o === 'EAGAIN').length, 7, outcomes.join(' '));
    assert.deepEqual(queue, { queue: 5, backlog: 4, listeners: 1 });
    assert.equal((await slow).status, 200);
  });

  test("--keepalive-timeout 0 keeps an idle socket open past 2 × Node's 5 s default; 200 closes it (after 200 + 1000 ms)", {
    timeout: 25_000,
  }, async () => {
    await using never = await spawnDemoApp({ keepAliveTimeoutMs: 0 });
    await using short = await spawnDemoApp({ keepAliveTimeoutMs: 200 });
    const [kept, closed] = await Promise.all([idleKeepAlive(never.url, 10_500), idleKeepAlive(short.url, 5000)]);
    assert.deepEqual(kept, { status: 'HTTP/1.1 200 OK', closedAfterMs: null });
    assert.equal(closed.status, 'HTTP/1.1 200 OK');
    // Node 20 arms the idle timer at keepAliveTimeout + 1000 ms (its internal buffer), not at keepAliveTimeout.
    // The client starts its clock when it has read the response, a little after the server armed the
    // timer, so the lower bound leaves 200 ms for that (a run under load measured 1176 ms).
    assert.ok(
      closed.closedAfterMs !== null && closed.closedAfterMs >= 1000 && closed.closedAfterMs < 4900,
      String(closed.closedAfterMs),
    );
  });

  test('a stale socket file is removed on start; the own socket is removed on SIGTERM', {
    timeout: 15_000,
  }, async () => {
    await using dir = await createTempDir('app');
    const path = dir.file('s.sock');
    makeStaleSocket(path);
    const app = startCli(['app', '--unix-socket', path]);
    try {
      await app.waitForLine(new RegExp(`^listening on unix:${path.replace(/[.]/g, '\\.')}$`));
      assert.equal(statSync(path).mode & 0o777, 0o666);
      assert.equal((await get(`unix:${path}`, '/')).body, 'ok\n');
    } finally {
      assert.deepEqual(await app.stop('SIGTERM'), { code: 0, signal: null });
    }
    assert.equal(existsSync(path), false);
    assert.deepEqual(readdirSync(dir.path), []);
  });

  test('SIGINT stops it cleanly too, dropping idle keep-alive connections', { timeout: 15_000 }, async () => {
    await using dir = await createTempDir('app');
    const path = dir.file('i.sock');
    const app = startCli(['app', '--unix-socket', path, '--keepalive-timeout', '0']);
    let idle;
    try {
      await app.waitForLine(/^listening on unix:/);
      let answered!: () => void;
      const isAnswered = new Promise<void>((resolve) => (answered = resolve));
      idle = idleKeepAlive(`unix:${path}`, 10_000, answered);
      await isAnswered;
    } finally {
      assert.deepEqual(await app.stop('SIGINT'), { code: 0, signal: null });
    }
    assert.notEqual((await idle).closedAfterMs, null);
    assert.deepEqual(readdirSync(dir.path), []);
  });

  test('bad input: one line naming the option and value, exit 2, nothing left behind', {
    timeout: 60_000,
  }, async () => {
    await using dir = await createTempDir('app');
    chmodSync(dir.path, 0o755); // so the unprivileged user below can reach ro/
    const ro = dir.file('ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    const live = dir.file('live.sock');
    const liveServer = net.createServer();
    await new Promise<void>((r) => liveServer.listen(live, r));
    const file = dir.file('plain');
    writeFileSync(file, 'not a socket\n');
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const busyPort = (busy.address() as net.AddressInfo).port;
    const longPath = `/tmp/${'a'.repeat(110)}.sock`;
    const root = process.getuid?.() === 0;
    const cases: [string[], RegExp, { uid?: number; env?: NodeJS.ProcessEnv }?][] = [
      [['--frobnicate'], /^badgateway app: unknown option '--frobnicate'$/],
      [
        ['--port', '65536'],
        /^badgateway app: option '--port <n>' argument '65536' is invalid\. expected a whole number from 0 to 65535\.$/,
      ],
      [['--port', '-1'], /^badgateway app: option '--port <n>' argument '-1' is invalid\./],
      [['--port', 'abc'], /^badgateway app: option '--port <n>' argument 'abc' is invalid\./],
      [
        ['--backlog', '0'],
        /^badgateway app: option '--backlog <n>' argument '0' is invalid\. expected a whole number from 1 to 65535\.$/,
      ],
      [['--backlog', 'NaN'], /^badgateway app: option '--backlog <n>' argument 'NaN' is invalid\./],
      [
        ['--keepalive-timeout', '-5'],
        /^badgateway app: option '--keepalive-timeout <duration>' argument '-5' is invalid\./,
      ],
      [
        ['--keepalive-timeout', '3000000'],
        /^badgateway app: option '--keepalive-timeout <duration>' argument '3000000' is invalid\. expected a duration: .*at most 596h31m23s\.$/,
      ],
      [
        ['--keep-alive-timeout', '3000000000'],
        /^badgateway app: option '--keep-alive-timeout <ms>' argument '3000000000' is invalid\. expected a duration: .*at most 596h31m23s\.$/,
      ],
      [['--work', 'NaN'], /^badgateway app: option '--work <duration>' argument 'NaN' is invalid\./],
      [['--fd-limit', '0'], /^badgateway app: option '--fd-limit <n>' argument '0' is invalid\./],
      [
        ['--fd-limit', '5', '--port', '0'],
        /^badgateway: --fd-limit 5: too low, the app has \d+ fds open at start and needs at least \d+$/,
      ],
      [
        ['--fd-limit', '64', '--port', '0'],
        /^badgateway: --fd-limit 64: needs prlimit \(util-linux\), which is not installed$/,
        { env: { PATH: '/nonexistent' } },
      ],
      [
        ['--port', String(busyPort)],
        new RegExp(
          `^badgateway: --port ${busyPort}: 127\\.0\\.0\\.1:${busyPort} is already in use \\(--port 0 picks a free port\\)$`,
        ),
      ],
      [
        ['--port', '0', '--host', '10.255.255.1'],
        /^badgateway: --host 10\.255\.255\.1: not an address of this machine$/,
      ],
      [
        ['--unix-socket', dir.file('missing/a.sock')],
        new RegExp(
          `^badgateway: --unix-socket ${dir.file('missing/a.sock')}: directory ${dir.file('missing')} does not exist$`,
        ),
      ],
      [
        ['--unix-socket', `${file}/a.sock`],
        new RegExp(`^badgateway: --unix-socket ${file}/a\\.sock: ${file} is not a directory$`),
      ],
      [
        ['--unix-socket', `${ro}/a.sock`],
        new RegExp(`^badgateway: --unix-socket ${ro}/a\\.sock: cannot create a socket in ${ro}: permission denied$`),
        root ? { uid: 65534 } : {},
      ],
      [['--unix-socket', live], new RegExp(`^badgateway: --unix-socket ${live}: another process is listening on it$`)],
      [
        ['--unix-socket', file],
        new RegExp(`^badgateway: --unix-socket ${file}: exists and is not a socket \\(not removing it\\)$`),
      ],
      [
        ['--unix-socket', longPath],
        new RegExp(
          `^badgateway: --unix-socket ${longPath}: 120 bytes long, over the 107-byte limit of unix socket paths$`,
        ),
      ],
      [
        ['--unix-socket', live, '--port', '8080'],
        /^badgateway app: option '--port <n>' cannot be used with option '--unix-socket <path>'$/,
      ],
    ];
    try {
      // A few at a time: node's start-up dominates, and none of the cases creates anything.
      for (let i = 0; i < cases.length; i += 4) {
        const batch = cases.slice(i, i + 4);
        const results = await Promise.all(batch.map(([args, , opts]) => runApp(args, opts)));
        for (const [j, r] of results.entries()) {
          const [args, expected] = batch[j]!;
          const what = `app ${args.join(' ')}: ${JSON.stringify(r)}`;
          assert.equal(r.code, 2, what);
          assert.equal(r.stdout, '', what);
          assert.equal(r.stderr.split('\n').length, 2, what); // one line and its newline
          assert.match(r.stderr.trimEnd(), expected, what);
        }
        const what = batch.map(([args]) => args.join(' ')).join(' | ');
        assert.deepEqual(readdirSync(dir.path).sort(), ['live.sock', 'plain', 'ro'], what);
        assert.deepEqual(readdirSync(ro), [], what);
        assert.equal(existsSync(longPath), false, what);
      }
      // The live socket still answers: a failed start never removes someone else's socket.
      await new Promise<void>((resolve, reject) =>
        net
          .connect({ path: live })
          .on('connect', function (this: net.Socket) {
            this.destroy();
            resolve();
          })
          .on('error', reject),
      );
    } finally {
      liveServer.close();
      busy.close();
    }
  });

  test("spawnDemoApp rejects with the child's own error when it cannot start", { timeout: 15_000 }, async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      await assert.rejects(
        spawnDemoApp({ port }),
        (err) =>
          isBadgatewayError(err, 'BG_CHILD_FAILED') &&
          err.message ===
            `badgateway app exited (2) before it was ready: --port ${port}: 127.0.0.1:${port} is already in use (--port 0 picks a free port)`,
      );
    } finally {
      busy.close();
    }
  });

  test('a spawned app whose parent dies without close() exits too (no orphan)', { timeout: 20_000 }, async () => {
    const appModule = new URL('../../src/app/index.js', import.meta.url).href;
    const parent = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
      const { spawnDemoApp } = await import(${JSON.stringify(appModule)});
      const app = await spawnDemoApp();
      console.log(app.pid);
      process.exit(0);
    `,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    parent.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    await new Promise((r) => parent.once('close', r));
    const pid = Number(out.trim());
    assert.ok(pid > 0, out);
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(alive(), false, `app ${pid} still running after its parent died`);
  });

  test('spawnDemoApp: pid is the serving process, close() ends it with exit 0', { timeout: 15_000 }, async () => {
    const app = await spawnDemoApp({ workMs: 10 });
    assert.equal(app.pid, app.child.pid);
    assert.equal(app.url, `http://127.0.0.1:${app.port}`);
    const fds = await getJson(app.url, '/fds');
    assert.equal(fds.json['pid'], app.pid);
    await app.close();
    assert.equal(app.child.exitCode, 0);
    await assert.rejects(get(app.url, '/'), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
  });
});
