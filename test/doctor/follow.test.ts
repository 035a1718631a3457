import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, rename, truncate, unlink, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import {
  tailFile,
  summarizeAppLogs,
  readKernelCrashes,
  CrashCounter,
  KERNEL_CRASH_PATTERNS,
} from '../../src/doctor/index.js';
import { createTempDir, sleep, waitFor, which } from '../../src/util/index.js';
import { BIN, runCli, runCommand, startCli } from '../../src/testing/index.js';
import { findNginx, runNginx } from '../../src/proxy/index.js';

const line = (n: number, path = '/tmp/x.sock'): string =>
  `2026/11/30 22:10:0${n % 10} [error] 1#1: *${n} connect() to unix:${path} failed (11: Resource temporarily unavailable) while connecting to upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", upstream: "http://unix:${path}:/", host: "x"`;

test('tailFile follows like tail -F: new lines only, through rotation (rename + new file), truncation, removal and re-creation', {
  timeout: 20_000,
}, async () => {
  await using dir = await createTempDir('tail');
  const file = dir.file('error.log');
  await writeFile(file, 'old 1\nold 2\n');
  const seen: string[] = [];
  const notices: string[] = [];
  const ac = new AbortController();
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const done = tailFile(file, (l) => seen.push(l), {
    pollMs: 20,
    signal: ac.signal,
    onNotice: (n) => notices.push(n),
    onReady: () => ready(),
  });
  await isReady;
  const waitSeen = (n: number): Promise<boolean> =>
    waitFor(`${n} lines`, () => seen.length >= n, { timeoutMs: 5000, intervalMs: 10 });
  await appendFile(file, 'a\nb');
  await waitSeen(1);
  await appendFile(file, 'c\n'); // 'bc', written in two parts, is one line
  await waitSeen(2);
  // logrotate's default: rename, then the writer opens a new file; the tail of the old one is still read.
  await rename(file, dir.file('error.log.1'));
  await appendFile(dir.file('error.log.1'), 'last of old\n');
  await writeFile(file, 'new 1\n');
  await waitSeen(4);
  // copytruncate: the same file cut to 0, then written again.
  await truncate(file, 0);
  await sleep(100);
  await appendFile(file, 'after truncate\n');
  await waitSeen(5);
  await unlink(file);
  await sleep(100);
  await writeFile(file, 'recreated\n');
  await waitSeen(6);
  ac.abort();
  await done;
  assert.deepEqual(seen, ['a', 'bc', 'last of old', 'new 1', 'after truncate', 'recreated']);
  assert.ok(
    notices.some((n) => /was rotated/.test(n)),
    notices.join('; '),
  );
  assert.ok(
    notices.some((n) => /was truncated/.test(n)),
    notices.join('; '),
  );
  assert.ok(
    notices.some((n) => /removed or renamed/.test(n)),
    notices.join('; '),
  );
});

test('doctor --follow: incidents grouped per cause and upstream, NDJSON, exit 1; a file that appears later is waited for', {
  timeout: 30_000,
}, async () => {
  await using dir = await createTempDir('follow');
  const file = dir.file('error.log');
  const follow = startCli([
    'doctor',
    '--follow',
    '--nginx-error-log',
    file,
    '--json',
    '--close-after',
    '500ms',
    '--no-proxy-discovery',
  ]);
  try {
    await follow.waitForLine(/"following /, 15_000);
    await writeFile(
      file,
      [line(1, dir.file('a.sock')), line(2, dir.file('a.sock')), line(3, dir.file('b.sock'))].join('\n') + '\n',
    );
    await follow.waitForLine(/"event":"closed".*b\.sock/, 10_000);
    await follow.waitForLine(/"event":"closed".*a\.sock/, 10_000);
    const exit = await follow.stop('SIGINT');
    assert.equal(exit.code, 1);
    const events = follow.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            event: string;
            incident?: { upstream: string; lines: number; cause: string; samples: { listening: boolean }[] };
          },
      );
    for (const e of events) assert.equal((e as { schema?: string }).schema, 'badgateway.doctor.follow/v1');
    const closed = events.filter((e) => e.event === 'closed').map((e) => e.incident!);
    assert.deepEqual(closed.map((i) => [i.upstream, i.lines, i.cause]).sort(), [
      [`unix:${dir.file('a.sock')}`, 2, 'backlog-overflow-unix'],
      [`unix:${dir.file('b.sock')}`, 1, 'backlog-overflow-unix'],
    ]);
    // Nothing listens at those paths: the sample says so.
    assert.equal(closed[0]!.samples[0]?.listening, false);
    assert.ok(events.some((e) => e.event === 'notice' && /does not exist yet/.test(JSON.stringify(e))));
  } finally {
    await follow.stop('SIGKILL');
  }
});

test('doctor --follow bad input: no log, two logs, with --watch: one line, exit 2', { timeout: 20_000 }, async () => {
  for (const args of [
    ['doctor', '--follow'],
    ['doctor', '--follow', '--nginx-error-log', 'a', 'b'],
    ['doctor', '--follow', '--nginx-error-log', 'a', '--watch', '1'],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test("app logs: a real Node process dying of an uncaught exception is a fatal exit; gunicorn's recorded lines; exit code 0 is no death", {
  timeout: 20_000,
}, async () => {
  await using dir = await createTempDir('applog');
  const stderr = await new Promise<string>((resolve) => {
    const child = spawn(process.execPath, ['-e', "setTimeout(() => { throw new Error('boom') }, 10)"], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let out = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('close', () => resolve(out));
  });
  await writeFile(dir.file('node.log'), stderr);
  const node = await summarizeAppLogs([dir.file('node.log')], { maxLineChars: 16384 });
  assert.deepEqual(
    node.crashes.map((c) => [c.kind, c.pattern, c.count]),
    [['fatal', 'Node.js fatal exit (uncaught exception)', 1]],
  );
  // gunicorn 20.1's lines as it wrote them here (test/doctor/root-cause.test.ts provokes them for real).
  await writeFile(
    dir.file('gunicorn.log'),
    [
      '[2026-11-30 21:46:42 +0000] [6043] [CRITICAL] WORKER TIMEOUT (pid:6044)',
      '[2026-11-30 21:46:42 +0000] [6044] [INFO] Worker exiting (pid: 6044)',
      '[2026-11-30 21:46:42 +0000] [6043] [WARNING] Worker with pid 6045 was terminated due to signal 9',
      '[2026-11-30 21:46:43 +0000] [6043] [ERROR] Worker (pid:6058) was sent SIGKILL! Perhaps out of memory?',
      '[2026-11-30 21:46:44 +0000] [6043] [ERROR] Worker (pid:6059) exited with code 0',
      '[2026-11-30 21:46:44 +0000] [6043] [ERROR] Worker (pid:6060) exited with code 3',
    ].join('\n'),
  );
  const g = await summarizeAppLogs([dir.file('gunicorn.log')], { maxLineChars: 16384 });
  assert.deepEqual(
    g.crashes.map((c) => [c.pattern, c.count, c.pids]).sort(),
    [
      ['gunicorn WORKER TIMEOUT', 1, [6044]],
      ['gunicorn worker SIGKILL (out of memory?)', 1, [6058]],
      ['gunicorn worker exited with an error', 1, [6060]],
      ['gunicorn worker terminated by a signal', 1, [6045]],
    ].sort(),
  );
  // The OOM killer cannot be provoked here; its line as the kernel prints it (mm/oom_kill.c).
  const k = new CrashCounter(KERNEL_CRASH_PATTERNS);
  k.add(
    '[12345.678901] Out of memory: Killed process 4242 (gunicorn) total-vm:812344kB, anon-rss:612000kB, file-rss:0kB, shmem-rss:0kB, UID:33 pgtables:1400kB oom_score_adj:0',
  );
  k.add('[12345.678902] Memory cgroup out of memory: Killed process 4243 (python3) total-vm:1kB');
  assert.deepEqual(
    k.crashes().map((c) => [c.kind, c.count, c.pids]),
    [['oom-kill', 2, [4242, 4243]]],
  );
});

test('bad input: an unreadable app log, nginx -T denied and a kernel log without permission are one line each; the report says what was not seen', {
  timeout: 30_000,
  skip: process.getuid?.() !== 0 || !which('setpriv') ? 'needs root and setpriv (runs doctor as nobody)' : false,
}, async () => {
  await using dir = await createTempDir('unseen');
  const missing = await runCli(
    ['doctor', '--app-log', dir.file('nope.log'), '--nginx-error-log', '-', '--no-proxy-discovery'],
    { input: '' },
  );
  assert.equal(missing.code, 0, missing.stderr);
  assert.equal(missing.stderr, `badgateway: cannot read ${dir.file('nope.log')}: no such file\n`);
  // (No discovery: an nginx another test runs on this machine would otherwise be inspected.)
  const alone = await runCli(['doctor', '--app-log', dir.file('nope.log'), '--no-proxy-discovery']);
  assert.equal(alone.code, 2);
  assert.equal(alone.stderr, `badgateway: cannot read ${dir.file('nope.log')}: no such file\n`);
  // As nobody: the kernel log is restricted (dmesg_restrict) and journalctl has nothing for it.
  const kernel = await new Promise<string>((resolve) => {
    const child = spawn(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        '-e',
        `import('${new URL('../../src/doctor/index.js', import.meta.url).href}').then(async (d) => console.log(JSON.stringify(await d.readKernelCrashes())))`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('close', () => resolve(out));
  });
  const parsed = JSON.parse(kernel) as { unreadable?: string };
  if (parsed.unreadable) assert.match(parsed.unreadable, /^kernel log \(journalctl: .*; dmesg: .*\)$/);
  // And as root here the kernel log is read (dmesg works even with no journal).
  const asRoot = await readKernelCrashes();
  assert.ok(!('unreadable' in asRoot) || /journalctl/.test(asRoot.unreadable));
  // nginx -T of a root nginx, run by nobody: denied (its config is in a private dir). One line, the rest is inspected.
  if (!findNginx()) return;
  const nginx = await runNginx({ upstream: 'http://127.0.0.1:9', keepalive: 0 });
  try {
    const r = await runCommand('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      BIN,
      'doctor',
      '--port',
      '9',
      '--interval',
      '0',
      '--json',
    ]);
    assert.equal(r.code, 1, r.stderr);
    const ours = r.stderr.split('\n').filter((l) => l.includes(`(pid ${nginx.pid})`));
    assert.equal(ours.length, 1, r.stderr);
    assert.match(
      ours[0]!,
      new RegExp(
        `^badgateway: nginx -T of the running nginx \\(pid ${nginx.pid}\\) failed: .*(Permission denied|permission denied)`,
      ),
    );
    const report = JSON.parse(r.stdout) as { unseen: string[]; findings: { cause: string }[] };
    assert.ok(report.unseen.some((u) => u.includes(`(pid ${nginx.pid})`)));
    assert.equal(report.findings[0]?.cause, 'upstream-down');
  } finally {
    await nginx.close();
  }
});

test('doctor --follow with hostile lines: escape sequences shown escaped, a 5 MB line and binary garbage cost nothing', {
  timeout: 30_000,
}, async () => {
  await using dir = await createTempDir('follow');
  const file = dir.file('error.log');
  await writeFile(file, '');
  const follow = startCli([
    'doctor',
    '--follow',
    '--nginx-error-log',
    file,
    '--close-after',
    '500ms',
    '--no-proxy-discovery',
  ]);
  try {
    await follow.waitForLine(/^note: following /, 15_000);
    const evil = '\x1b]0;pwned\x07\x1b[31m';
    await appendFile(
      file,
      [
        `2026/11/30 22:10:01 [error] 1#1: *1 upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /${evil} HTTP/1.1", upstream: "http://unix:/tmp/${evil}.sock:/", host: "x"`,
        `2026/11/30 22:10:01 [error] 1#1: *2 connect() failed (111: Connection refused) while connecting to upstream, client: 1, request: "${'A'.repeat(5_000_000)}"`,
        Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString('latin1'),
      ].join('\n') + '\n',
    );
    await follow.waitForLine(/incident \d+ closed: \S+ on unix:\/tmp\//, 15_000);
    const exit = await follow.stop('SIGINT');
    assert.equal(exit.code, 1);
    assert.ok(!follow.stdout.includes('\x1b'), 'no raw escape reaches the terminal');
    assert.match(follow.stdout, /\\x1B\]0;pwned\\x07/);
  } finally {
    await follow.stop('SIGKILL');
  }
});
