import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseNetstat,
  parseProcNetAddress,
  parseProcNetTcp,
  parseProcNetUnix,
  parseSsEndpoint,
  parseSsListen,
  parseSsTcp,
  parseSsUnix,
  parseSsUsers,
  type ListenSocket,
} from '../../src/proc/index.js';
import { fixture, SCENE } from './fixtures.js';

const { pid, childPid, ports, dir } = SCENE;
const abstractName = `@bg-fixture${'@'.repeat(97)}`; // node binds abstract names with the full sun_path length

test('parseSsListen: ss -ltnpeH and ss -lxpH as captured (queue = Recv-Q, backlog = Send-Q, pid, fd, inode)', () => {
  const sockets = parseSsListen(`${fixture('ss-ltnpeH.txt')}${fixture('ss-lxpH.txt')}`);
  const row = (
    kind: ListenSocket['kind'],
    address: string,
    where: { port?: number; path?: string },
    inode: number,
    queue: number,
    backlog: number,
    owner: [number, number],
  ): ListenSocket => ({
    kind,
    address,
    ...where,
    inode,
    queue,
    backlog,
    owners: [{ command: 'node', pid: owner[0], fd: owner[1] }],
    source: 'ss',
    pid: owner[0],
    fd: owner[1],
  });
  assert.deepEqual(sockets, [
    row('tcp', '127.0.0.1', { port: ports.blocked }, 42340, 4, 3, [childPid, 19]),
    row('tcp', '127.0.0.1', { port: ports.idle }, 42314, 0, 7, [pid, 19]),
    row('tcp6', '::', { port: ports.dual }, 42316, 0, 11, [pid, 21]),
    row('tcp6', '::1', { port: ports.v6 }, 42315, 0, 9, [pid, 20]),
    row('unix', `${dir}/blocked.sock`, { path: `${dir}/blocked.sock` }, 42338, 5, 4, [childPid, 18]),
    row('unix', `${dir}/with space.sock`, { path: `${dir}/with space.sock` }, 42317, 0, 2, [pid, 22]),
    row('unix', abstractName, { path: abstractName }, 42318, 0, 3, [pid, 23]),
  ]);
});

test('parseSsListen: accepts the netid column and lines without users or ino', () => {
  assert.deepEqual(parseSsListen('tcp   LISTEN 0      4096   127.0.0.53%lo:53      0.0.0.0:*\n'), [
    { kind: 'tcp', address: '127.0.0.53', port: 53, inode: 0, queue: 0, backlog: 4096, owners: [], source: 'ss' },
  ]);
  assert.deepEqual(
    parseSsListen('ESTAB 0 0 127.0.0.1:1 127.0.0.1:2\nu_str ESTAB 0 0 /x 5 * 6\nu_dgr UNCONN 0 0 /dev/log 7 * 0\n'),
    [],
  );
});

test('parseSsEndpoint and parseSsUsers', () => {
  assert.deepEqual(parseSsEndpoint('127.0.0.1:80'), { address: '127.0.0.1', port: 80 });
  assert.deepEqual(parseSsEndpoint('[::ffff:127.0.0.1]:34735'), { address: '::ffff:127.0.0.1', port: 34735 });
  assert.deepEqual(parseSsEndpoint('*:34735'), { address: '::', port: 34735 });
  assert.deepEqual(parseSsEndpoint('[::]:*'), { address: '::', port: null });
  assert.deepEqual(parseSsEndpoint('[fe80::1]%eth0:22'), { address: 'fe80::1', port: 22 });
  assert.equal(parseSsEndpoint('127.0.0.1:99999'), undefined);
  assert.equal(parseSsEndpoint('/tmp/x.sock'), undefined);
  assert.deepEqual(parseSsUsers('users:(("nginx",pid=7791,fd=5),("nginx",pid=7789,fd=5)) ino:11400'), [
    { command: 'nginx', pid: 7791, fd: 5 },
    { command: 'nginx', pid: 7789, fd: 5 },
  ]);
  assert.deepEqual(parseSsUsers('ino:1 sk:2'), []);
});

test('parseSsTcp: idle keep-alive sockets with lastsnd/lastrcv/lastack (ms)', () => {
  const sockets = parseSsTcp(fixture('ss-tnaiH-idle.txt'));
  assert.deepEqual(
    sockets.map((s) => [s.state, s.local.port, s.peer.port, s.lastRecvMs, s.lastSendMs, s.lastAckMs]),
    [
      ['LISTEN', ports.idle, null, 0, 0, 0],
      ['ESTABLISHED', ports.idle, 52456, 1588, 1576, 1576],
      ['ESTABLISHED', ports.idle, 52472, 1596, 1584, 1584],
      ['ESTABLISHED', ports.idle, 52458, 1596, 1584, 1584],
    ],
  );
  assert.deepEqual(sockets[0], {
    state: 'LISTEN',
    recvQ: 0,
    sendQ: 7,
    local: { address: '127.0.0.1', port: ports.idle },
    peer: { address: '0.0.0.0', port: null },
    lastSendMs: 0,
    lastRecvMs: 0,
    lastAckMs: 0,
  });
});

test('parseSsTcp: TIME-WAIT has no tcp_info (null timers); CLOSE-WAIT and v4-mapped addresses', () => {
  const sockets = parseSsTcp(fixture('ss-tnaiH-dual.txt'));
  assert.deepEqual(
    sockets.map((s) => [s.state, s.local.address, s.peer.port, s.lastRecvMs, s.lastSendMs]),
    [
      ['LISTEN', '::', null, 0, 0],
      ['TIME_WAIT', '::ffff:127.0.0.1', 45108, null, null],
      ['ESTABLISHED', '::ffff:127.0.0.1', 45134, 1608, 1644],
      ['CLOSE_WAIT', '::ffff:127.0.0.1', 45118, 1620, 1644],
    ],
  );
});

test('parseSsTcp: a full TCP accept queue (both ends of every connection, SYN-SENT clients)', () => {
  const sockets = parseSsTcp(fixture('ss-tnaiH-blocked.txt'));
  const count = (pred: (s: (typeof sockets)[number]) => boolean): number => sockets.filter(pred).length;
  assert.equal(sockets.length, 15);
  assert.deepEqual([sockets[0]?.state, sockets[0]?.recvQ, sockets[0]?.sendQ], ['LISTEN', 4, 3]);
  assert.equal(
    count((s) => s.state === 'SYN_SENT' && s.peer.port === ports.blocked),
    6,
  );
  assert.equal(
    count((s) => s.state === 'ESTABLISHED' && s.local.port === ports.blocked),
    4,
  ); // = the queue
  assert.equal(
    count((s) => s.state === 'ESTABLISHED' && s.peer.port === ports.blocked),
    4,
  );
});

test('parseSsUnix: every socket of ss -xanpH, paths with spaces, unbound sockets', () => {
  const sockets = parseSsUnix(fixture('ss-xanpH.txt'));
  assert.equal(sockets.length, 16);
  assert.deepEqual(sockets[0], {
    type: 'stream',
    state: 'ESTAB',
    recvQ: 0,
    sendQ: 0,
    path: `${dir}/with space.sock`,
    inode: 42376,
    peerPath: null,
    peerInode: 42358,
    owners: [{ command: 'node', pid, fd: 30 }],
  });
  assert.deepEqual(sockets[2]?.path, null);
  assert.equal(sockets.filter((s) => s.path === `${dir}/with space.sock` && s.state === 'ESTAB').length, 2);
  assert.deepEqual(
    sockets.filter((s) => s.state === 'LISTEN').map((s) => [s.path, s.recvQ, s.sendQ]),
    [
      [`${dir}/blocked.sock`, 5, 4],
      [`${dir}/with space.sock`, 0, 2],
      [abstractName, 0, 3],
    ],
  );
});

test('parseProcNetAddress: little-endian words, IPv6 compression, v4-mapped', () => {
  assert.deepEqual(parseProcNetAddress('0100007F:8C57', true), { address: '127.0.0.1', port: 35927 });
  assert.deepEqual(parseProcNetAddress('7F000001:0050', false), { address: '127.0.0.1', port: 80 });
  assert.deepEqual(parseProcNetAddress('00000000000000000000000001000000:A3DD', true), { address: '::1', port: 41949 });
  assert.deepEqual(parseProcNetAddress('00000000000000000000000000000000:87AF', true), { address: '::', port: 34735 });
  assert.deepEqual(parseProcNetAddress('0000000000000000FFFF00000100007F:87AF', true), {
    address: '::ffff:127.0.0.1',
    port: 34735,
  });
  assert.deepEqual(parseProcNetAddress('000080FE00000000FF0500023B0F85FE:0016', true), {
    address: 'fe80::200:5ff:fe85:f3b',
    port: 22,
  });
  assert.deepEqual(parseProcNetAddress('B80D0120000000000000000000000001:0001', true), {
    address: '2001:db8::100:0',
    port: 1,
  });
  assert.equal(parseProcNetAddress('0100007F', true), undefined);
  assert.equal(parseProcNetAddress('0100007G:0050', true), undefined);
});

test('parseProcNetTcp: the captured scene; a socket listed twice in one read counts once', () => {
  const raw = fixture('proc-net-tcp.txt');
  assert.equal(raw.split('\n').filter((l) => l.includes(': 0100007F:8C57 0100007F:8018 01')).length, 3);
  const sockets = parseProcNetTcp(raw);
  assert.equal(sockets.length, 24);
  const listener = sockets.find((s) => s.state === 'LISTEN' && s.local.port === ports.blocked);
  assert.deepEqual(listener, {
    kind: 'tcp',
    state: 'LISTEN',
    local: { address: '127.0.0.1', port: ports.blocked },
    remote: { address: '0.0.0.0', port: 0 },
    txQueue: 0,
    rxQueue: 4, // = ss Recv-Q: the accept-queue depth
    uid: 0,
    inode: 42340,
  });
  // Connections waiting in the accept queue: ESTABLISHED, no inode until accept() hands them out.
  assert.equal(
    sockets.filter((s) => s.local.port === ports.blocked && s.state === 'ESTABLISHED' && s.inode === 0).length,
    4,
  );
  assert.equal(sockets.filter((s) => s.state === 'SYN_SENT').length, 6);
  assert.equal(sockets.filter((s) => s.local.port === ports.idle && s.state === 'ESTABLISHED').length, 3);
  assert.deepEqual(sockets.find((s) => s.state === 'FIN_WAIT2')?.remote, { address: '127.0.0.1', port: ports.dual });
});

test('parseProcNetTcp: tcp6 file with TIME_WAIT (short line) and CLOSE_WAIT', () => {
  const sockets = parseProcNetTcp(fixture('proc-net-tcp6.txt'));
  assert.deepEqual(
    sockets.map((s) => [s.kind, s.state, s.local.address, s.local.port, s.inode]),
    [
      ['tcp6', 'LISTEN', '::', ports.dual, 42316],
      ['tcp6', 'LISTEN', '::1', ports.v6, 42315],
      ['tcp6', 'TIME_WAIT', '::ffff:127.0.0.1', ports.dual, 0],
      ['tcp6', 'ESTABLISHED', '::ffff:127.0.0.1', ports.dual, 42383],
      ['tcp6', 'CLOSE_WAIT', '::ffff:127.0.0.1', ports.dual, 42381],
    ],
  );
});

test('parseProcNetUnix: listeners, queued connections (CONNECTING, inode 0) and accepted ones', () => {
  const sockets = parseProcNetUnix(fixture('proc-net-unix.txt'));
  assert.equal(sockets.length, 10);
  const blocked = `${dir}/blocked.sock`;
  assert.deepEqual(
    sockets.find((s) => s.listening && s.path === blocked),
    {
      type: 'stream',
      state: 'UNCONNECTED',
      listening: true,
      refCount: 2,
      inode: 42338,
      path: blocked,
    },
  );
  // ss reads Recv-Q 5 for this listener (backlog 4 + 1): the same five sockets, seen from /proc.
  assert.equal(sockets.filter((s) => s.path === blocked && s.state === 'CONNECTING' && s.inode === 0).length, 5);
  assert.deepEqual(
    sockets.filter((s) => s.path === `${dir}/with space.sock`).map((s) => [s.state, s.listening, s.inode]),
    [
      ['CONNECTED', false, 42376],
      ['CONNECTED', false, 42379],
      ['UNCONNECTED', true, 42317],
    ],
  );
  assert.deepEqual(
    parseProcNetUnix(
      '00000000a: 00000002 00000000 00000000 0002 01 1717 /dev/log\n00000000b: 00000002 00000000 00000000 0001 01 1718\n',
    ),
    [
      { type: 'dgram', state: 'UNCONNECTED', listening: false, refCount: 2, inode: 1717, path: '/dev/log' },
      { type: 'stream', state: 'UNCONNECTED', listening: false, refCount: 2, inode: 1718, path: null },
    ],
  );
});

test('parseNetstat: two-line header/value sections of /proc/net/netstat', () => {
  const sections = parseNetstat(fixture('proc-net-netstat.txt'));
  assert.deepEqual(Object.keys(sections), ['TcpExt', 'IpExt', 'MPTcpExt']);
  assert.equal(Object.keys(sections['TcpExt'] ?? {}).length, 135);
  assert.equal(sections['TcpExt']?.['ListenOverflows'], 40);
  assert.equal(sections['TcpExt']?.['ListenDrops'], 40);
  assert.equal(sections['TcpExt']?.['TW'], 1321);
  assert.deepEqual(parseNetstat('Tcp: RtoMin MaxConn\nTcp: 200 -1\nUdp: 1 2\nX: a\n'), {
    Tcp: { RtoMin: 200, MaxConn: -1 },
  });
  assert.deepEqual(parseNetstat('__proto__: polluted\n__proto__: 1\n'), JSON.parse('{"__proto__":{"polluted":1}}'));
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

/** Deterministic PRNG (mulberry32) so a fuzz failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('fuzz: truncated, mutated and random lines never throw and yield only well-formed records', {
  timeout: 10_000,
}, () => {
  const samples = [
    'ss-ltnpeH.txt',
    'ss-lxpH.txt',
    'ss-tnaiH-dual.txt',
    'ss-tnaiH-blocked.txt',
    'ss-xanpH.txt',
    'proc-net-tcp.txt',
    'proc-net-tcp6.txt',
    'proc-net-unix.txt',
    'proc-net-netstat.txt',
  ]
    .flatMap((name) => fixture(name).split('\n'))
    .filter((l) => l.trim() !== '');
  const rand = random(20261126);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const alphabet = ' \t:[]()*@,=/"%.-_0123456789ABCDEFabcdefLISTENESTAB\u00e9\u0000';
  const isPort = (p: number | null | undefined): boolean =>
    p === null || p === undefined || (Number.isInteger(p) && p >= 0 && p <= 65535);
  const isCount = (n: number | null): boolean => n === null || (Number.isSafeInteger(n) && n >= 0);
  for (let i = 0; i < 1000; i += 1) {
    const base = pick(samples);
    const lines: string[] = [];
    for (let k = 0; k < 4; k += 1) {
      const mode = Math.floor(rand() * 4);
      if (mode === 0)
        lines.push(base.slice(0, Math.floor(rand() * base.length))); // truncated read
      else if (mode === 1) {
        const chars = [...base];
        for (let m = 0; m < 3; m += 1) chars[Math.floor(rand() * chars.length)] = pick([...alphabet]);
        lines.push(chars.join(''));
      } else if (mode === 2)
        lines.push(Array.from({ length: Math.floor(rand() * 200) }, () => pick([...alphabet])).join(''));
      else lines.push(pick(samples));
    }
    const text = lines.join('\n');
    for (const s of parseSsListen(text)) {
      assert.ok(isPort(s.port) && isCount(s.queue) && isCount(s.backlog) && isCount(s.inode), text);
      assert.ok(s.kind === 'unix' ? typeof s.path === 'string' : typeof s.port === 'number', text);
    }
    for (const s of parseSsTcp(text))
      assert.ok(isPort(s.local.port) && isPort(s.peer.port) && isCount(s.recvQ) && isCount(s.lastRecvMs), text);
    for (const s of parseSsUnix(text)) assert.ok(isCount(s.inode) && isCount(s.peerInode) && isCount(s.recvQ), text);
    for (const s of parseProcNetTcp(text))
      assert.ok(isPort(s.local.port) && isPort(s.remote.port) && isCount(s.rxQueue) && isCount(s.inode), text);
    for (const s of parseProcNetUnix(text)) assert.ok(isCount(s.inode) && isCount(s.refCount), text);
    for (const values of Object.values(parseNetstat(text)))
      for (const v of Object.values(values)) assert.ok(Number.isFinite(v), text);
  }
  // Pure garbage yields nothing.
  const garbage = Array.from({ length: 500 }, () =>
    Array.from({ length: 80 }, () => pick([...alphabet])).join(''),
  ).join('\n');
  assert.deepEqual(
    [parseSsListen(garbage), parseSsTcp(garbage), parseProcNetTcp(garbage), parseProcNetUnix(garbage)],
    [[], [], [], []],
  );
});
