import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createServer, get as httpGet } from 'node:http';
import { spawnDemoApp } from '../../src/app/index.js';
import { writeFile, chmod } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { runCli, startCli } from '../../src/testing/index.js';
import { createTempDir, sleep, waitFor } from '../../src/util/index.js';
import { countFds, readConnections } from '../../src/proc/index.js';
import { waitUntilBlocked } from '../helpers/waits.js';
import type { DoctorReport } from '../../src/doctor/index.js';
import { BLOCKED_TCP, BLOCKED_UNIX, NO_IDLE_TIMEOUT, spawnNodeChild } from './children.js';

const FIXTURE = new URL('../../../test/doctor/fixtures/nginx-error.log', import.meta.url).pathname;

function parseReport(stdout: string): DoctorReport {
  const report = JSON.parse(stdout) as DoctorReport;
  assert.equal(report.schema, 'badgateway.doctor/v1');
  return report;
}

const causesOf = (r: DoctorReport): string[] => r.findings.map((f) => `${f.cause}:${f.severity}`);

/** GET on the demo app with Connection: close, so the request's own socket is gone afterwards. */
function getJson<T>(url: string): Promise<T> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(JSON.parse(body) as T));
    }).on('error', reject);
  });
}

test('the demo app at ≥ 95% of its fd limit: doctor --pid / --port names fd-exhaustion, critical, with fds by kind', {
  timeout: 20_000,
}, async () => {
  const app = await spawnDemoApp({ port: 0, fdLimit: 64 });
  try {
    const { open } = await getJson<{ open: number }>(`${app.url}/fds`);
    await getJson(`${app.url}/leak?n=${62 - open}`);
    // The leak's own request socket closes just after the response: 62 fds left open then.
    await waitFor('the /leak request to release its socket', async () => (await countFds(app.pid)) === 62, {
      intervalMs: 10,
    });
    const r = await runCli(['doctor', '--pid', String(app.pid), '--json', '--interval', '0']);
    assert.equal(r.code, 1, r.stderr);
    const report = parseReport(r.stdout);
    assert.deepEqual(causesOf(report), ['fd-exhaustion:critical']);
    const f = report.findings[0]!;
    assert.match(f.target, new RegExp(`^pid ${app.pid} \\(`));
    assert.match(f.summary, /^62 of 64 fds in use \(97%\): accept\(\) fails or is about to fail with EMFILE$/);
    assert.match(f.evidence.join('\n'), /^fds by kind: /m);
    assert.ok(f.confirm.includes(`ls /proc/${app.pid}/fd | wc -l`), f.confirm.join('; '));
    const port = Number(new URL(app.url).port);
    assert.deepEqual(
      report.facts?.targets[0]?.listeners.map((l) => l.port),
      [port],
    );
    // Same via the port: the owner process is found from the listener.
    const byPort = parseReport((await runCli(['doctor', '--port', String(port), '--json', '--interval', '0'])).stdout);
    assert.deepEqual(causesOf(byPort), ['fd-exhaustion:critical']);
  } finally {
    await app.close();
  }
});

test('a unix socket with a full backlog (listener blocked, 5 connects on backlog 2): backlog-overflow-unix', {
  timeout: 20_000,
}, async () => {
  const dir = await createTempDir('doctor');
  const path = dir.file('app.sock');
  const app = await spawnNodeChild<{ path: string }>(BLOCKED_UNIX, { args: [path, '2', '4000'] });
  const sockets: Socket[] = [];
  try {
    await waitUntilBlocked(app.pid); // the child's loop blocks 50 ms after ready
    const results = await Promise.all(
      Array.from(
        { length: 5 },
        () =>
          new Promise<string>((resolve) => {
            const s = connect(path);
            sockets.push(s);
            s.once('connect', () => resolve('connected'));
            s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
          }),
      ),
    );
    assert.deepEqual(results.sort(), ['EAGAIN', 'EAGAIN', 'connected', 'connected', 'connected']);
    const r = await runCli(['doctor', '--unix-socket', path, '--json', '--interval', '0']);
    assert.equal(r.code, 1, r.stderr);
    const report = parseReport(r.stdout);
    assert.deepEqual(causesOf(report), ['backlog-overflow-unix:critical']);
    assert.equal(report.findings[0]?.summary, `accept queue of unix:${path} is full (3/2)`);
    assert.ok(report.findings[0]?.confirm.includes(`ss -xlp | grep ${path}`));
  } finally {
    for (const s of sockets) s.destroy();
    await app.close();
    await dir.close();
  }
});

test('a server holding idle keep-alive connections: keepalive-leak; with a proxy idle timeout, the probe sees no Keep-Alive timeout', {
  timeout: 20_000,
}, async () => {
  const app = await spawnNodeChild<{ port: number }>(NO_IDLE_TIMEOUT, { fdLimit: 256 });
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < 25; i++) {
      const s = connect(app.info.port, '127.0.0.1');
      sockets.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.once('data', () => resolve());
        s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      });
    }
    // Idle for 1 s by the kernel's count (ss' timer), as doctor's --idle 1s will read them.
    await waitFor(
      '25 connections idle for 1 s',
      async () => (await readConnections({ port: app.info.port }, { idleMs: 1000 })).idle.count === 25,
      { timeoutMs: 5000, intervalMs: 50 },
    );
    const r = await runCli([
      'doctor',
      '--port',
      String(app.info.port),
      '--idle',
      '1s',
      '--idle-sockets',
      '20',
      '--interval',
      '0',
      '--json',
      '--proxy-idle-timeout',
      '60s',
    ]);
    assert.equal(r.code, 1, r.stderr);
    const report = parseReport(r.stdout);
    assert.deepEqual(causesOf(report), ['keepalive-leak:warning']);
    const f = report.findings[0]!;
    assert.match(f.summary, /^25 idle keep-alive connections on port \d+ hold fds$/);
    assert.match(f.evidence.join('\n'), /without announcing an idle timeout/);
    assert.equal(report.facts?.targets[0]?.listeners[0]?.connections?.idle, 25);
  } finally {
    for (const s of sockets) s.destroy();
    await app.close();
  }
});

test('keepAliveTimeout (5 s) not above --proxy-idle-timeout (60 s): keepalive-race; above it: healthy', {
  timeout: 15_000,
}, async () => {
  const server = createServer((_req, res) => res.end('ok'));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const race = parseReport(
      (await runCli(['doctor', '--port', String(port), '--proxy-idle-timeout', '60s', '--interval', '0', '--json']))
        .stdout,
    );
    assert.deepEqual(causesOf(race), ['keepalive-race:warning']);
    assert.match(race.findings[0]!.evidence[0]!, /answers Keep-Alive: timeout=5/);
    const ok = await runCli(['doctor', '--port', String(port), '--proxy-idle-timeout', '4s', '--interval', '0']);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /^badgateway doctor: no finding\n/);
    assert.match(ok.stdout, /verdict: healthy \(exit 0\)\n$/);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('nothing on the port / no socket file: upstream-down', { timeout: 15_000 }, async () => {
  const dir = await createTempDir('doctor');
  try {
    const r = await runCli([
      'doctor',
      '--unix-socket',
      dir.file('none.sock'),
      '--port',
      '1',
      '--interval',
      '0',
      '--json',
    ]);
    assert.equal(r.code, 1, r.stderr);
    const report = parseReport(r.stdout);
    assert.deepEqual(causesOf(report), ['upstream-down:critical', 'upstream-down:critical']);
    assert.deepEqual(report.findings.map((f) => f.target).sort(), ['port 1', `unix:${dir.file('none.sock')}`].sort());
  } finally {
    await dir.close();
  }
});

test('exit 2 with one line: no such pid, unreadable log, bad option', { timeout: 15_000 }, async () => {
  const dir = await createTempDir('doctor');
  try {
    const noPid = await runCli(['doctor', '--pid', '4194304']);
    assert.equal(noPid.code, 2);
    assert.equal(noPid.stdout, '');
    assert.equal(noPid.stderr, 'badgateway: no process with pid 4194304\n');
    const missing = await runCli(['doctor', '--nginx-error-log', dir.file('nope.log')]);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, `badgateway: cannot read ${dir.file('nope.log')}: no such file\n`);
    const isDir = await runCli(['doctor', '--access-log', dir.path]);
    assert.equal(isDir.code, 2);
    assert.equal(isDir.stderr, `badgateway: cannot read ${dir.path}: is a directory\n`);
    if (process.getuid?.() !== 0) {
      await writeFile(dir.file('secret.log'), 'x\n');
      await chmod(dir.file('secret.log'), 0o000);
      const denied = await runCli(['doctor', '--nginx-error-log', dir.file('secret.log')]);
      assert.equal(denied.code, 2);
      assert.equal(denied.stderr, `badgateway: cannot read ${dir.file('secret.log')}: permission denied\n`);
    }
    const bad = await runCli(['doctor', '--fd-warning', '2']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.split('\n').length, 2, bad.stderr);
    assert.match(bad.stderr, /--fd-warning/);
  } finally {
    await dir.close();
  }
});

test('--nginx-error-log classifies real nginx lines (file and stdin give the same counts); exit 1', {
  timeout: 15_000,
}, async () => {
  const r = await runCli(['doctor', '--nginx-error-log', FIXTURE, '--json']);
  assert.equal(r.code, 1, r.stderr);
  const report = parseReport(r.stdout);
  assert.equal(report.facts, null);
  assert.equal(report.errorLog?.lines.total, 114);
  assert.equal(report.errorLog?.lines.upstreamErrors, 99);
  assert.deepEqual(report.errorLog?.statuses, { '502': 22, '503': 0, '504': 32, '500': 21, none: 24 });
  assert.deepEqual(
    report.findings.map((f) => f.cause).sort(),
    [
      'backlog-overflow-tcp',
      'backlog-overflow-unix',
      'keepalive-race',
      'no-live-upstreams',
      'proxy-fd-exhaustion',
      'slow-upstream',
      'socket-permission',
      'too-big-header',
      'upstream-down',
    ].sort(),
  );
  const { readFile } = await import('node:fs/promises');
  const viaStdin = parseReport(
    (await runCli(['doctor', '--nginx-error-log', '-', '--json'], { input: await readFile(FIXTURE, 'utf8') })).stdout,
  );
  assert.deepEqual(viaStdin.errorLog?.patterns, report.errorLog?.patterns);
  const text = await runCli(['doctor', '--nginx-error-log', FIXTURE]);
  assert.match(
    text.stdout,
    /^CRITICAL  proxy-fd-exhaustion — The proxy itself is out of file descriptors or connections$/m,
  );
  assert.match(text.stdout, /^  connect-eagain  +4  502 {4}/m);
});

test('an empty error log is healthy: exit 0', { timeout: 10_000 }, async () => {
  const r = await runCli(['doctor', '--nginx-error-log', '-'], { input: '' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /verdict: healthy \(exit 0\)/);
});

test('--watch re-samples and prints deltas until Ctrl-C; --prometheus serves the same facts', {
  timeout: 20_000,
}, async () => {
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const cli = startCli(['doctor', '--port', String(port), '--watch', '200ms', '--prometheus', '0']);
  try {
    await cli.waitForLine(/^verdict: healthy/);
    const [, url] = await cli.waitForLine(/^metrics on (http:\S+)$/);
    const watchLine = await cli.waitForLine(/^\d\d:\d\d:\d\d {2}port \d+ .*→ healthy$/);
    assert.match(watchLine[0], new RegExp(`127\\.0\\.0\\.1:${port} queue 0/511`));
    const res = await fetch(url!);
    assert.equal(res.status, 200);
    const body = await res.text();
    // 0 only if some other process on this machine overflowed a TCP queue meanwhile (machine-wide counter).
    assert.match(body, /^badgateway_doctor_healthy [01]$/m);
    assert.match(
      body,
      new RegExp(
        `^badgateway_accept_backlog\\{target="port ${port}",listener="127\\.0\\.0\\.1:${port}",kind="tcp"\\} 511$`,
        'm',
      ),
    );
    assert.match(
      body,
      new RegExp(
        `^badgateway_accept_queue_length\\{target="port ${port}",listener="127\\.0\\.0\\.1:${port}",kind="tcp"\\} 0$`,
        'm',
      ),
    );
    // The guard's names for the same facts; no pid label (a restart would start new series).
    assert.match(body, new RegExp(`^badgateway_process_open_fds\\{target="port ${port}"\\} \\d+$`, 'm'));
    assert.match(body, new RegExp(`^badgateway_listener_up\\{target="port ${port}"\\} 1$`, 'm'));
    assert.match(body, /^badgateway_somaxconn \d+$/m);
    assert.match(body, /^# TYPE badgateway_tcp_listen_overflows_total counter$/m);
    const exit = await cli.stop('SIGINT');
    assert.equal(exit.code, 0, cli.stderr);
  } finally {
    await cli.stop('SIGKILL');
    await new Promise((resolve) => server.close(resolve));
  }
});

test('with no target, doctor inspects every listening socket of the machine (ours among them)', {
  timeout: 20_000,
}, async () => {
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const r = await runCli(['doctor', '--interval', '0', '--json']);
    assert.ok(r.code === 0 || r.code === 1, r.stderr);
    const report = parseReport(r.stdout);
    const ours = report.facts?.targets.find((t) => t.pid === process.pid);
    assert.ok(ours, 'this test process is listed');
    assert.ok(ours.listeners.some((l) => l.name === `127.0.0.1:${port}` && l.queue === 0 && l.backlog === 511));
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a TCP listener with a full backlog: queue full on the port, and ListenOverflows growing between the two samples', {
  timeout: 20_000,
}, async () => {
  const app = await spawnNodeChild<{ port: number }>(BLOCKED_TCP, { args: ['1', '6000'] });
  const sockets: Socket[] = [];
  try {
    await waitUntilBlocked(app.pid);
    // More connects than the queue holds: the kernel drops the extra SYNs (and their retries).
    for (let i = 0; i < 6; i++) {
      const s = connect(app.info.port, '127.0.0.1');
      s.on('error', () => {});
      sockets.push(s);
    }
    await sleep(200);
    const r = await runCli(['doctor', '--port', String(app.info.port), '--interval', '1500ms', '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = parseReport(r.stdout);
    assert.deepEqual(
      report.findings.map((f) => `${f.cause}:${f.severity}:${f.target}`),
      [`backlog-overflow-tcp:critical:machine`, `backlog-overflow-tcp:critical:port ${app.info.port}`],
    );
    assert.ok((report.facts?.machine.netstat?.listenOverflows.delta ?? 0) > 0);
    assert.match(
      report.findings[0]!.evidence.join('\n'),
      new RegExp(
        `listener with a queue: 127\\.0\\.0\\.1:${app.info.port} \\(port ${app.info.port}\\): 2 queued, backlog 1`,
      ),
    );
  } finally {
    for (const s of sockets) s.destroy();
    await app.close();
  }
});
