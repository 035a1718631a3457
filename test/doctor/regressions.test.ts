import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { get as httpGet } from 'node:http';
import { spawnDemoApp } from '../../src/app/index.js';
import { checkPythonServers, openIdleClients, spawnPythonApp } from '../../src/lab/index.js';
import { createTempDir, sleep, waitFor } from '../../src/util/index.js';
import type { DoctorReport } from '../../src/doctor/index.js';
import { runCli } from '../../src/testing/index.js';
import { spawnNodeChild } from './children.js';
import { countFds } from '../../src/proc/index.js';

// Gaps the lab found by running doctor at the end of its fail phases.

const causesOf = (r: DoctorReport): string[] => r.findings.map((f) => `${f.cause}:${f.severity}`);

test('gevent pywsgi keep-alive leak on a unix socket (seed 001): keepalive-leak from connections quiet across two samples, one finding for --pid and --unix-socket', {
  timeout: 30_000,
}, async (t) => {
  const reason = (await checkPythonServers()).gevent;
  if (reason) {
    t.skip(reason);
    return;
  }
  await using dir = await createTempDir('docgev');
  const app = await spawnPythonApp({ server: 'gevent', dir: dir.path, unixSocket: dir.file('app.sock'), fdLimit: 64 });
  const clients = openIdleClients({ url: app.url, count: 30, rate: 1000 });
  try {
    await waitFor('30 answered idle clients', () => clients.stats.answered === 30, {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    const args = [
      'doctor',
      '--pid',
      String(app.pid),
      '--unix-socket',
      app.unixSocket,
      '--idle-sockets',
      '20',
      '--json',
    ];
    const r = await runCli([...args, '--interval', '300ms']);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as DoctorReport;
    assert.deepEqual(causesOf(report), ['keepalive-leak:warning']);
    const f = report.findings[0]!;
    assert.match(f.target, new RegExp(`^pid ${app.pid} \\(\\S+\\), unix:${app.unixSocket}$`));
    assert.equal(f.summary, `30 idle keep-alive connections on unix:${app.unixSocket} hold fds`);
    assert.match(
      f.evidence[0]!,
      new RegExp(
        `^unix:${app.unixSocket}: 30 accepted connections stayed connected with nothing queued either way \\(Recv-Q 0, Send-Q 0\\) at two samples \\d+ ms apart, 30 connected in all$`,
      ),
    );
    assert.equal(f.evidence.filter((line) => line.startsWith('they hold 30 of the ')).length, 1); // merged, not repeated
    assert.deepEqual(
      report.facts?.targets.map((target) => target.listeners[0]?.connections?.quiet?.count),
      [30, 30],
    );
    // One sample (--interval 0) cannot show unix connections staying quiet: no claim.
    const once = JSON.parse((await runCli([...args, '--interval', '0'])).stdout) as DoctorReport;
    assert.deepEqual(causesOf(once), []);
  } finally {
    await clients.close();
    await app.close();
  }
});

/** Accepts unix connections and never reads them: requests stay queued (busy, not idle). */
const UNREAD_UNIX = `
const net = require('node:net');
const server = net.createServer({ pauseOnConnect: true }, () => {});
server.listen(process.argv[1], () => console.log(JSON.stringify({ ok: true })));
`;

test('unix connections with unread requests (Recv-Q > 0) are not idle: no keepalive-leak', {
  timeout: 15_000,
}, async () => {
  await using dir = await createTempDir('docunr');
  const path = dir.file('app.sock');
  const app = await spawnNodeChild<{ ok: boolean }>(UNREAD_UNIX, { args: [path] });
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < 25; i++) {
      const s = connect(path);
      sockets.push(s);
      await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
      s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    }
    await sleep(100);
    const r = await runCli(['doctor', '--unix-socket', path, '--idle-sockets', '20', '--interval', '200ms', '--json']);
    const report = JSON.parse(r.stdout) as DoctorReport;
    assert.deepEqual(causesOf(report), []);
    assert.deepEqual(report.facts?.targets[0]?.listeners[0]?.connections?.quiet?.count, 0);
    assert.deepEqual(report.facts?.targets[0]?.listeners[0]?.connections?.quiet?.connected, 25);
  } finally {
    for (const s of sockets) s.destroy();
    await app.close();
  }
});

test('fd-exhaustion once, not twice, when --pid and --port name the same process (evidence merged)', {
  timeout: 20_000,
}, async () => {
  const app = await spawnDemoApp({ port: 0, fdLimit: 64 });
  try {
    const get = (path: string): Promise<{ open: number }> =>
      new Promise((resolve, reject) => {
        httpGet(`${app.url}${path}`, { agent: false, headers: { connection: 'close' } }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve(JSON.parse(body) as { open: number }));
        }).on('error', reject);
      });
    const { open } = await get('/fds');
    await get(`/leak?n=${62 - open}`);
    await waitFor('the /leak request to release its socket', async () => (await countFds(app.pid)) === 62, {
      intervalMs: 10,
    });
    const port = Number(new URL(app.url).port);
    const r = await runCli(['doctor', '--pid', String(app.pid), '--port', String(port), '--interval', '0', '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as DoctorReport;
    assert.deepEqual(causesOf(report), ['fd-exhaustion:critical']);
    const f = report.findings[0]!;
    assert.match(f.target, new RegExp(`^pid ${app.pid} \\(\\S+\\), port ${port}$`));
    assert.equal(f.evidence.filter((line) => line.startsWith('fds by kind: ')).length, 1);
    assert.equal(report.facts?.targets.length, 2);
  } finally {
    await app.close();
  }
});
