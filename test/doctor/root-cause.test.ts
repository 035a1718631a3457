import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { checkPythonServers, openIdleClients, spawnNodeApp, spawnPythonApp } from '../../src/lab/index.js';
import { findNginx, runNginx, startProxy } from '../../src/proxy/index.js';
import { runLoad } from '../../src/load/index.js';
import { readConnections } from '../../src/proc/index.js';
import { createTempDir, waitFor } from '../../src/util/index.js';
import type { DoctorReport, FollowEvent } from '../../src/doctor/index.js';
import { runCli, startCli } from '../../src/testing/index.js';
import { spawnNodeChild } from './children.js';

// Issue 13: doctor names the root cause, tried as an on-call engineer would, with the real servers
// behind real nginx. Each test asserts the FIRST finding.

const first = (r: DoctorReport): string =>
  `${r.findings[0]?.cause}:${r.findings[0]?.severity}:${r.findings[0]?.source}`;
const isRoot = process.getuid?.() === 0;

/** `n` clients in turn: each sends a request, reads the answer and closes its end (bounded: 2 s each). */
async function closeAfterAnswer(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      const timer = setTimeout(() => (s.destroy(), reject(new Error(`client ${i} got no answer in 2 s`))), 2000);
      const done = (err?: Error): void => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      s.once('error', done);
      s.once('close', () => done(new Error(`client ${i}: closed before an answer`)));
      s.once('data', () => {
        s.removeAllListeners('close');
        s.end();
        done();
      });
      s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    });
  }
}

test('gevent pywsgi under 64 fds, idle clients younger than --idle (seed 001): keepalive-leak first, fd-exhaustion as its effect', {
  timeout: 40_000,
}, async (t) => {
  const reason = (await checkPythonServers()).gevent;
  if (reason) return t.skip(reason);
  await using dir = await createTempDir('rcgev');
  const app = await spawnPythonApp({ server: 'gevent', dir: dir.path, unixSocket: dir.file('app.sock'), fdLimit: 64 });
  const clients = openIdleClients({ url: app.url, count: 60, rate: 2000 });
  try {
    await waitFor('the idle clients to fill the fd limit', () => clients.stats.answered >= 50, {
      timeoutMs: 15_000,
      intervalMs: 20,
    });
    // Default --idle is 10 s: every client here is younger than that.
    const r = await runCli([
      'doctor',
      '--pid',
      String(app.pid),
      '--json',
      '--interval',
      '300ms',
      '--no-proxy-discovery',
    ]);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as DoctorReport;
    assert.equal(first(report), 'keepalive-leak:critical:live');
    const leak = report.findings[0]!;
    assert.deepEqual(leak.causes, ['fd-exhaustion']);
    assert.match(
      leak.summary,
      /^\d+ of the \d+ fds are keep-alive connections with nothing in flight \(Recv-Q 0, Send-Q 0\), whatever their age: they bring pid \d+ to \d+% of its fd limit \(\d+\/64\)$/,
    );
    assert.match(leak.evidence.join('\n'), /^effect: fd-exhaustion — \d+ of 64 fds in use/m);
    assert.match(leak.evidence.join('\n'), /held at two samples \d+ ms apart/);
    const effect = report.findings.find((f) => f.cause === 'fd-exhaustion');
    assert.ok(effect, 'fd-exhaustion is reported as the effect');
    assert.deepEqual(effect.causedBy, ['keepalive-leak']);
    assert.equal(report.findings.indexOf(effect), 1);
    assert.equal(report.rootCause?.cause, 'keepalive-leak');
    assert.deepEqual(report.rootCause?.effects, ['fd-exhaustion']);
    const holders = report.facts?.targets[0]?.process?.holders;
    assert.ok((holders?.sockets.unixQuiet ?? 0) >= 40, JSON.stringify(holders));
    const text = await runCli(['doctor', '--pid', String(app.pid), '--interval', '300ms', '--no-proxy-discovery']);
    assert.match(
      text.stdout.split('\n')[0]!,
      new RegExp(
        `^Most likely: keepalive-leak \\(pid ${app.pid} \\(\\S+\\)\\): \\d+ of the \\d+ fds are keep-alive connections with nothing in flight`,
      ),
    );
  } finally {
    await clients.close();
    await app.close();
  }
});

test('a CLOSE_WAIT pile (the app never closes what the proxy closed): close-wait-leak first, critical at the fd limit', {
  timeout: 30_000,
}, async () => {
  const app = await spawnNodeApp({ app: 'close-wait', fixed: false, fdLimit: 64 });
  try {
    // 45 clients each send a request, read the answer and close: the app never closes its end.
    await closeAfterAnswer(app.port, 45);
    await waitFor(
      'the app to hold 45 sockets in CLOSE_WAIT',
      async () => (await readConnections({ port: app.port })).states.CLOSE_WAIT >= 45,
    );
    const r = await runCli(['doctor', '--pid', String(app.pid), '--json', '--interval', '0', '--no-proxy-discovery']);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as DoctorReport;
    assert.equal(first(report), 'close-wait-leak:critical:live');
    assert.match(
      report.findings[0]!.summary,
      /^45 of the \d+ fds are sockets in CLOSE_WAIT: the peer closed them and the app never did/,
    );
    assert.deepEqual(report.findings.find((f) => f.cause === 'fd-exhaustion')?.causedBy, ['close-wait-leak']);
    assert.equal(report.facts?.targets[0]?.process?.holders?.sockets.tcp.CLOSE_WAIT, 45);
  } finally {
    await app.close();
  }
});

test('25 CLOSE_WAIT sockets far from the fd limit: close-wait-leak, a warning', { timeout: 20_000 }, async () => {
  const app = await spawnNodeApp({ app: 'close-wait', fixed: false });
  try {
    await closeAfterAnswer(app.port, 25);
    await waitFor(
      'the app to hold 25 sockets in CLOSE_WAIT',
      async () => (await readConnections({ port: app.port })).states.CLOSE_WAIT >= 25,
    );
    const report = JSON.parse(
      (await runCli(['doctor', '--port', String(app.port), '--json', '--interval', '0', '--no-proxy-discovery']))
        .stdout,
    ) as DoctorReport;
    assert.equal(first(report), 'close-wait-leak:warning:live');
    assert.equal(
      report.findings[0]!.summary,
      `25 sockets of pid ${app.pid} wait in CLOSE_WAIT: the peer closed them and the app never did`,
    );
  } finally {
    await app.close();
  }
});

test("the app's own files hold the fds: fd-exhaustion first, with the targets counted", {
  timeout: 20_000,
}, async () => {
  const LEAKY = `
const fs = require('node:fs');
const kept = [fs.openSync(process.argv[1], 'a')];
while (fs.readdirSync('/proc/self/fd').length < 62) kept.push(fs.openSync('/dev/null', 'r'));
console.log(JSON.stringify({ nulls: kept.length - 1 }));
setInterval(() => {}, 1000);
`;
  await using dir = await createTempDir('rcfil');
  const app = await spawnNodeChild<{ nulls: number }>(LEAKY, { fdLimit: 64, args: [dir.file('app.log')] });
  try {
    const report = JSON.parse(
      (await runCli(['doctor', '--pid', String(app.pid), '--json', '--interval', '0', '--no-proxy-discovery'])).stdout,
    ) as DoctorReport;
    assert.equal(first(report), 'fd-exhaustion:critical:live');
    assert.match(
      report.findings[0]!.evidence.join('\n'),
      new RegExp(
        `held by the app's own files, pipes and anon inodes \\(\\d+ of \\d+\\): /dev/null × (\\d+), ${dir.file('app.log').replace(/[.]/g, '\\.')} × 1`,
      ),
    );
    const nulls = Number(/\/dev\/null × (\d+)/.exec(report.findings[0]!.evidence.join('\n'))?.[1]);
    // The child's stdin ('ignore') is /dev/null too.
    assert.ok(
      nulls >= app.info.nulls && nulls <= app.info.nulls + 3,
      `${nulls} /dev/null counted, ${app.info.nulls} opened`,
    );
    assert.deepEqual(report.findings[0]!.causedBy, []);
  } finally {
    await app.close();
  }
});

test('gunicorn sync worker killed at --timeout mid-request behind real nginx without keepalive: upstream-crash first, never keepalive-race', {
  timeout: 60_000,
  skip: !findNginx() ? 'nginx not installed' : false,
}, async (t) => {
  const reason = (await checkPythonServers()).gunicorn;
  if (reason) return t.skip(reason);
  await using dir = await createTempDir('rcgun');
  const app = await spawnPythonApp({
    server: 'gunicorn',
    dir: dir.path,
    unixSocket: dir.file('app.sock'),
    workers: 1,
    workMs: 2000,
    timeoutS: 1,
  });
  const proxy = await startProxy({ kind: 'nginx', upstream: app.url, keepalive: 0, readTimeoutMs: 5000 });
  try {
    const statuses = await Promise.all([0, 1].map(async () => (await fetch(`${proxy.url}/`)).status));
    assert.deepEqual(statuses, [502, 502]);
    await waitFor('the WORKER TIMEOUT line', () => app.stderr.includes('WORKER TIMEOUT'), { timeoutMs: 5000 });
    // Only the error log: doctor finds the nginx that writes it and reads its config with nginx -T.
    const r = await runCli(['doctor', '--nginx-error-log', proxy.errorLogPath, '--json', '--interval', '0']);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as DoctorReport;
    assert.equal(report.findings[0]?.cause, 'upstream-crash');
    assert.ok(!report.findings.some((f) => f.cause === 'keepalive-race'), 'no keepalive-race without a pool');
    assert.ok(!report.findings[0]!.alsoConsistentWith.includes('keepalive-race'));
    assert.match(
      report.findings[0]!.evidence.join('\n'),
      /keepalive-race ruled out: no keep-alive pool for badgateway_upstream \(nginx -T of pid \d+\)/,
    );
    assert.equal(report.proxyConfigs[0]?.upstreams[0]?.keepalive, 0);
    // With gunicorn's own log the workers' deaths are the evidence.
    await writeFile(dir.file('gunicorn.log'), app.stderr);
    const withLog = JSON.parse(
      (
        await runCli([
          'doctor',
          '--nginx-error-log',
          proxy.errorLogPath,
          '--app-log',
          dir.file('gunicorn.log'),
          '--json',
          '--interval',
          '0',
        ])
      ).stdout,
    ) as DoctorReport;
    assert.equal(`${withLog.findings[0]?.cause}:${withLog.findings[0]?.severity}`, 'upstream-crash:critical');
    assert.match(withLog.findings[0]!.evidence.join('\n'), /^\d+ × gunicorn WORKER TIMEOUT \(pid \d+/m);
    assert.match(withLog.findings[0]!.evidence.join('\n'), /\[CRITICAL\] WORKER TIMEOUT \(pid:\d+\)/);
    assert.ok(withLog.findings[0]!.fix.some((f) => f.includes('--timeout')));
  } finally {
    await proxy.close();
    await app.close();
  }
});

test('a root-owned 0700 socket behind nginx whose workers run as nobody: socket-permission, live, with the exact fix', {
  timeout: 40_000,
  skip: !findNginx()
    ? 'nginx not installed'
    : !isRoot
      ? 'needs root (a root-owned socket, nginx workers as nobody)'
      : false,
}, async () => {
  // The socket's directory must be searchable by nobody, or the directory is what denies.
  const dir = await createTempDir('rcperm');
  await chmod(dir.path, 0o755);
  const path = dir.file('app.sock');
  const app = await spawnNodeChild<{ ok: boolean }>(
    `const http = require('node:http'); const fs = require('node:fs');
     const s = http.createServer((q, r) => r.end('ok')); s.listen(process.argv[1], () => { fs.chmodSync(process.argv[1], 0o700); console.log(JSON.stringify({ ok: true })); });`,
    { args: [path] },
  );
  const nginx = await runNginx({ upstream: `unix:${path}`, keepalive: 0, user: 'nobody nogroup' });
  try {
    const res = await fetch(`${nginx.url}/`);
    assert.equal(res.status, 502);
    assert.match(await nginx.readErrorLog(), /\(13: Permission denied\) while connecting to upstream/);
    // Only the socket: the worker user comes from the running nginx that proxies to it.
    const r = await runCli(['doctor', '--unix-socket', path, '--json', '--interval', '0']);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as DoctorReport;
    assert.equal(first(report), 'socket-permission:critical:live');
    const f = report.findings[0]!;
    assert.equal(
      f.summary,
      `the proxy's workers (nobody) cannot connect to unix:${path} (srwx------ root root): every request to it is a 502 (13: Permission denied)`,
    );
    assert.match(
      f.evidence.join('\n'),
      new RegExp(`workers run as nobody \\(uid 65534, gid 65534.*\\), from running nginx workers \\(pid \\d+\\)`),
    );
    assert.match(f.evidence.join('\n'), /no write \(w\) permission for other on the socket/);
    assert.equal(
      f.fix[0],
      `chown :nogroup ${path} && chmod 660 ${path} — and at the app's start: gunicorn --umask 007 --group nogroup (Node: fs.chmod after listen)`,
    );
    // --proxy-user says who the workers are without any nginx; root may.
    const asRoot = JSON.parse(
      (
        await runCli([
          'doctor',
          '--unix-socket',
          path,
          '--json',
          '--interval',
          '0',
          '--no-proxy-discovery',
          '--proxy-user',
          'root',
        ])
      ).stdout,
    ) as DoctorReport;
    assert.ok(!asRoot.findings.some((x) => x.cause === 'socket-permission'));
    // 0777 in a directory nobody cannot search: the directory denies.
    await chmod(path, 0o777);
    await chmod(dir.path, 0o700);
    const inDir = JSON.parse(
      (
        await runCli([
          'doctor',
          '--unix-socket',
          path,
          '--json',
          '--interval',
          '0',
          '--no-proxy-discovery',
          '--proxy-user',
          'nobody',
        ])
      ).stdout,
    ) as DoctorReport;
    assert.equal(first(inDir), 'socket-permission:critical:live');
    assert.match(
      inDir.findings[0]!.evidence.join('\n'),
      new RegExp(`no search \\(x\\) permission for other on the directory ${dir.path}`),
    );
    assert.equal(
      inDir.findings[0]!.fix[0],
      `chmod o+x ${dir.path} (or give nobody a group with search permission on it)`,
    );
  } finally {
    await nginx.close();
    await app.close();
    await dir.close();
  }
});

test('supplementary groups count, as the kernel counts them: a 0770 socket of a group the worker is in is allowed', {
  timeout: 20_000,
  skip: !isRoot ? 'needs root (chown)' : false,
}, async () => {
  const { checkSocketAccess } = await import('../../src/doctor/index.js');
  await using dir = await createTempDir('rcgrp');
  await chmod(dir.path, 0o710);
  await chown(dir.path, 0, 4242);
  await mkdir(dir.file('run'), { mode: 0o755 });
  const path = dir.file('run/app.sock');
  const app = await spawnNodeChild<{ ok: boolean }>(
    `require('node:net').createServer().listen(process.argv[1], () => console.log('{"ok":true}'))`,
    { args: [path] },
  );
  try {
    await chown(path, 0, 4242);
    await chmod(path, 0o770);
    const db = {
      userByName: () => undefined,
      userName: () => undefined,
      groupByName: () => undefined,
      groupName: () => undefined,
      memberOf: () => [],
    };
    const inGroup = { user: 'w', uid: 5000, gid: 5000, group: null, groups: [4242], from: 'test' };
    assert.equal(checkSocketAccess(path, inGroup, db).allowed, true);
    const notInGroup = { ...inGroup, groups: [] };
    const denied = checkSocketAccess(path, notInGroup, db);
    assert.equal(denied.allowed, false);
    assert.equal(denied.denied?.path, dir.path); // the 0710 directory stops it first
    assert.equal(denied.denied?.need, 'search');
    const primary = { ...inGroup, gid: 4242, groups: [] };
    assert.equal(checkSocketAccess(path, primary, db).allowed, true);
  } finally {
    await app.close();
  }
});

test('--follow catches a 2 s burst against backlog 16 behind real nginx, with the queue at the moment of the error', {
  timeout: 60_000,
  skip: !findNginx() ? 'nginx not installed' : false,
}, async (t) => {
  const reason = (await checkPythonServers()).gunicorn;
  if (reason) return t.skip(reason);
  await using dir = await createTempDir('rcfol');
  const app = await spawnPythonApp({
    server: 'gunicorn',
    dir: dir.path,
    unixSocket: dir.file('app.sock'),
    workers: 1,
    backlog: 16,
    workMs: 20,
  });
  const proxy = await startProxy({ kind: 'nginx', upstream: app.url, keepalive: 0, readTimeoutMs: 5000 });
  const follow = startCli([
    'doctor',
    '--follow',
    '--nginx-error-log',
    proxy.errorLogPath,
    '--json',
    '--close-after',
    '1s',
  ]);
  try {
    await follow.waitForLine(/"following /, 20_000);
    const load = await runLoad({
      url: `${proxy.url}/`,
      rate: 150,
      durationMs: 2000,
      timeoutMs: 8000,
      keepAlive: false,
    });
    assert.ok((load.statusCodes['502'] ?? 0) > 0, JSON.stringify(load.statusCodes));
    await follow.waitForLine(/"event":"closed"/, 15_000);
    const exit = await follow.stop('SIGINT');
    assert.equal(exit.code, 1, follow.stderr);
    const events = follow.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as FollowEvent);
    const closed = events
      .filter((e) => e.event === 'closed')
      .map((e) => (e as Extract<FollowEvent, { event: 'closed' }>).incident);
    const burst = closed.find((i) => i.cause === 'backlog-overflow-unix');
    assert.ok(burst, JSON.stringify(closed.map((i) => i.cause)));
    assert.equal(burst.upstream, `unix:${app.unixSocket}`);
    assert.equal(burst.lines, burst.patterns.find((p) => p.id === 'connect-eagain')?.count);
    assert.ok(burst.sampled >= 1 && burst.sampled <= 3 * 5, `${burst.sampled} samples (rate-limited to 5/s)`);
    assert.ok(burst.skipped > 0, 'the flood of lines was not a flood of samples');
    const fullest = Math.max(...burst.samples.map((s) => s.queue ?? 0));
    assert.ok(fullest >= 16, `queue at the error: ${fullest}/16`);
    assert.equal(burst.samples[0]?.backlog, 16);
    assert.equal(burst.finding?.cause, 'backlog-overflow-unix');
    assert.match(burst.finding!.summary, /at the error: accept queue 1[67]\/16/);
  } finally {
    await follow.stop('SIGKILL');
    await proxy.close();
    await app.close();
  }
});
