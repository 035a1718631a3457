import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { which } from '../../src/util/index.js';
import { createTempDir } from '../../src/util/index.js';
import { countFds, readFdLimits, readFdStats, procError, type FdStats } from '../../src/proc/index.js';
import { startChild, startNode } from './children.js';

// A child that reports "base", then on "go" opens exactly: 3 regular files, 5 devices, 4 listening
// TCP sockets and 2 pipe fds (re-opened from one of libuv's own pipes via /proc/self/fd, since node
// has no pipe() call), and reports "ready".
const OPENER = String.raw`
const fs = require('fs'), net = require('net');
const [file] = process.argv.slice(1);
const held = [];
process.stdin.setEncoding('utf8').on('data', async () => {
  for (let i = 0; i < 3; i++) held.push(fs.openSync(file, 'r'));
  for (let i = 0; i < 5; i++) held.push(fs.openSync('/dev/null', 'r'));
  for (let i = 0; i < 4; i++) held.push(await new Promise((ok) => { const s = net.createServer().listen(0, '127.0.0.1', () => ok(s)); }));
  const pipeFd = fs.readdirSync('/proc/self/fd').find((fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd).startsWith('pipe:'); } catch { return false; } });
  for (let i = 0; i < 2; i++) held.push(fs.openSync('/proc/self/fd/' + pipeFd, 'r+'));
  console.log('ready');
});
console.log('base');
`;

const delta = (after: FdStats, before: FdStats): Record<string, number> =>
  Object.fromEntries(
    Object.entries(after.byKind).map(([kind, n]) => [kind, n - before.byKind[kind as keyof FdStats['byKind']]]),
  );

test('readFdStats counts a real child process exactly, by kind', { timeout: 15_000 }, async () => {
  await using dir = await createTempDir('fds');
  const file = dir.file('data.txt');
  writeFileSync(file, 'x');
  const opener = startChild(process.execPath, ['-e', OPENER, file]);
  try {
    await opener.nextLine(/^base$/);
    const before = await readFdStats(opener.pid);
    opener.send('go');
    await opener.nextLine(/^ready$/);
    const after = await readFdStats(opener.pid);
    assert.deepEqual(delta(after, before), { socket: 4, pipe: 2, file: 3, anon_inode: 0, device: 5, other: 0 });
    assert.equal(after.open - before.open, 14);
    assert.equal(after.pid, opener.pid);
    assert.equal(await countFds(opener.pid), after.open);
    assert.equal(
      after.open,
      Object.values(after.byKind).reduce((a, b) => a + b, 0),
    );
  } finally {
    await opener.close();
  }
});

test('soft/hard RLIMIT_NOFILE of children started under prlimit --nofile=64:128', { timeout: 10_000 }, async (t) => {
  const prlimit = which('prlimit');
  if (!prlimit) return t.skip('prlimit (util-linux) is not installed');
  const sleeper = startChild(prlimit, ['--nofile=64:128', 'sh', '-c', 'echo ready; exec sleep 30']);
  // node raises its own soft limit to the hard one at startup, so a node child reads 128:128:
  // a node upstream must be limited with N:N to really hit EMFILE at N.
  const node = startChild(prlimit, [
    '--nofile=64:128',
    process.execPath,
    '-e',
    'console.log("ready"); setInterval(() => {}, 1000)',
  ]);
  try {
    await sleeper.nextLine(/^ready$/);
    assert.deepEqual(await readFdLimits(sleeper.pid), { soft: 64, hard: 128 });
    const stats = await readFdStats(sleeper.pid);
    assert.deepEqual([stats.soft, stats.hard, stats.ratio], [64, 128, stats.open / 64]);
    await node.nextLine(/^ready$/);
    assert.deepEqual(await readFdLimits(node.pid), { soft: 128, hard: 128 });
  } finally {
    await Promise.all([sleeper.close(), node.close()]);
  }
});

test('a pid that does not exist is BG_NO_SUCH_PID for every reader', async () => {
  // pids are always below pid_max, so pid_max itself never names a process.
  const pid = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
  for (const read of [readFdStats, readFdLimits, countFds]) {
    await assert.rejects(read(pid), {
      name: 'BadgatewayError',
      code: 'BG_NO_SUCH_PID',
      message: `no process with pid ${pid}`,
    });
  }
});

test('a pid that is not a positive integer is BG_BAD_OPTION', async () => {
  for (const pid of [0, -1, 1.5, Number.NaN]) {
    await assert.rejects(readFdStats(pid), { code: 'BG_BAD_OPTION' });
  }
});

test('a process we may not inspect is BG_PERMISSION (read from a child running as nobody)', {
  timeout: 10_000,
}, async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to start a child as another user');
  // Root reads every /proc/<pid>/fd, so the denial is produced for real: an unprivileged child
  // (uid 65534) asks about this root-owned test process, and ptrace access checks refuse it.
  const module = fileURLToPath(new URL('../../src/proc/index.js', import.meta.url));
  const code = `import(${JSON.stringify(module)}).then((p) => p.readFdStats(${process.pid})).then(
    () => console.log(JSON.stringify({ ok: true })),
    (e) => console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message, hint: e.hint, cause: e.cause?.code })));`;
  const child = startNode(code, { uid: 65534, gid: 65534 });
  try {
    const result: unknown = JSON.parse(await child.nextLine(/^\{/));
    assert.deepEqual(result, {
      name: 'BadgatewayError',
      code: 'BG_PERMISSION',
      message: `cannot read fds of pid ${process.pid}: permission denied`,
      hint: 'run as the same user as the process, or as root',
      cause: 'EACCES',
    });
  } finally {
    await child.close();
  }
});

test('procError maps errno codes to stable error codes', () => {
  const errno = (code: string): Error => Object.assign(new Error(code), { code });
  assert.equal(procError(7, errno('ENOENT'), 'fds').code, 'BG_NO_SUCH_PID');
  assert.equal(procError(7, errno('ESRCH'), 'fds').code, 'BG_NO_SUCH_PID');
  assert.equal(procError(7, errno('EACCES'), 'fds').code, 'BG_PERMISSION');
  assert.equal(procError(7, errno('EPERM'), 'limits').message, 'cannot read limits of pid 7: permission denied');
  assert.equal(procError(7, errno('EIO'), 'fds').code, 'BG_UNREADABLE');
});
