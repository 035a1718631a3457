import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildReport,
  resolveDoctorOptions,
  severityOf,
  type DoctorFacts,
  type TargetFacts,
} from '../../src/doctor/index.js';

const fds = (open: number, soft: number | null, socket = 1) => ({
  pid: 42,
  open,
  soft,
  hard: soft,
  ratio: soft ? open / soft : 0,
  byKind: { socket, pipe: 0, file: open - socket, anon_inode: 0, device: 0, other: 0 },
});

function facts(targets: TargetFacts[], machine: Partial<DoctorFacts['machine']> = {}): DoctorFacts {
  return { collectedAt: '2026-11-26T08:00:00.000Z', targets, machine: { somaxconn: 4096, netstat: null, ...machine } };
}

const node = (
  open: number,
  soft: number | null,
  listeners: TargetFacts['listeners'] = [],
  socket = 1,
): TargetFacts => ({
  label: 'pid 42 (node)',
  kind: 'pid',
  pid: 42,
  process: { pid: 42, command: 'node', fds: fds(open, soft, socket) },
  listeners,
});

const causes = (f: DoctorFacts, user = {}): string[] =>
  buildReport(resolveDoctorOptions(user), f, null, null).findings.map((x) => `${x.cause}:${x.severity}`);

test('severityOf: the one threshold check', () => {
  assert.equal(severityOf(0.95, { warning: 0.8, critical: 0.95 }), 'critical');
  assert.equal(severityOf(0.8, { warning: 0.8, critical: 0.95 }), 'warning');
  assert.equal(severityOf(0.79, { warning: 0.8, critical: 0.95 }), undefined);
  assert.equal(severityOf(5, { warning: 0, critical: 0 }), undefined);
});

test('fd usage: < 80% nothing, ≥ 80% warning, ≥ 95% critical, unlimited never', () => {
  assert.deepEqual(causes(facts([node(50, 64)])), []);
  assert.deepEqual(causes(facts([node(52, 64)])), ['fd-exhaustion:warning']);
  assert.deepEqual(causes(facts([node(61, 64)])), ['fd-exhaustion:critical']);
  assert.deepEqual(causes(facts([node(100_000, null)])), []);
  assert.deepEqual(causes(facts([node(52, 64)]), { fdWarningRatio: 0.9 }), []);
});

test('accept queue: full is critical, ≥ 80% a warning, by socket kind; backlog below --burst; somaxconn capping', () => {
  const l = (kind: 'tcp' | 'unix', queue: number, backlog: number) => ({
    kind,
    name: kind === 'unix' ? 'unix:/run/app.sock' : '127.0.0.1:8080',
    ...(kind === 'unix' ? { path: '/run/app.sock' } : { port: 8080 }),
    queue,
    backlog,
    pid: 42,
  });
  assert.deepEqual(causes(facts([node(10, 1024, [l('unix', 3, 2)])])), ['backlog-overflow-unix:critical']);
  assert.deepEqual(causes(facts([node(10, 1024, [l('tcp', 129, 128)])])), ['backlog-overflow-tcp:critical']);
  assert.deepEqual(causes(facts([node(10, 1024, [l('tcp', 13, 16)])])), ['backlog-overflow-tcp:warning']);
  // Backlog sanity by default: 16 < 128 while somaxconn (4096) would allow more.
  assert.deepEqual(causes(facts([node(10, 1024, [l('tcp', 0, 16)])])), ['backlog-overflow-tcp:warning']);
  assert.deepEqual(causes(facts([node(10, 1024, [l('tcp', 0, 16)])]), { minBacklog: 0 }), []);
  assert.deepEqual(causes(facts([node(10, 1024, [l('tcp', 0, 128)])])), []);
  const sanity = buildReport(resolveDoctorOptions(), facts([node(10, 1024, [l('unix', 0, 16)])]), null, null)
    .findings[0]!;
  assert.equal(
    sanity.summary,
    'backlog 16 of unix:/run/app.sock is below 128 while net.core.somaxconn allows 4096: any burst above 16 waiting connections is refused at once (EAGAIN: 502)',
  );
  assert.deepEqual(causes(facts([node(10, 1024, [l('unix', 0, 16)])]), { burst: 100 }), [
    'backlog-overflow-unix:warning',
  ]);
  assert.deepEqual(causes(facts([node(10, 1024, [l('tcp', 0, 128)])], { somaxconn: 128 })), [
    'backlog-overflow-tcp:warning',
  ]);
  const report = buildReport(
    resolveDoctorOptions(),
    facts([node(10, 1024, [l('tcp', 0, 128)])], { somaxconn: 128 }),
    null,
    null,
  );
  assert.equal(report.findings[0]?.summary, 'net.core.somaxconn 128 caps the backlog of 127.0.0.1:8080');
  assert.deepEqual(report.findings[0]?.confirm, [
    'ss -ltn sport = :8080',
    'nstat -az TcpExtListenOverflows TcpExtListenDrops',
  ]);
});

test('ListenOverflows/ListenDrops growing between the two samples: backlog-overflow-tcp on the machine', () => {
  const netstat = {
    intervalMs: 1000,
    listenOverflows: { before: 10, after: 1022, delta: 1012 },
    listenDrops: { before: 10, after: 1022, delta: 1012 },
  };
  const report = buildReport(resolveDoctorOptions(), facts([node(10, 1024)], { netstat }), null, null);
  assert.deepEqual(
    report.findings.map((f) => [f.cause, f.severity, f.target]),
    [['backlog-overflow-tcp', 'critical', 'machine']],
  );
  assert.equal(
    report.findings[0]?.summary,
    'TcpExt ListenOverflows +1012, ListenDrops +1012 in 1 s: a TCP accept queue overflows',
  );
  const still = {
    ...netstat,
    listenOverflows: { before: 10, after: 10, delta: 0 },
    listenDrops: { before: 10, after: 10, delta: 0 },
  };
  assert.deepEqual(causes(facts([node(10, 1024)], { netstat: still })), []);
});

test('idle keep-alive sockets: a leak when many and most of the sockets; critical with fds near the limit', () => {
  const listener = (idle: number) => ({
    kind: 'tcp' as const,
    name: '127.0.0.1:8080',
    port: 8080,
    queue: 0,
    backlog: 511,
    pid: 42,
    connections: { states: { ESTABLISHED: idle }, total: idle, idle, idleMs: 10_000, maxIdleMs: 60_000 },
  });
  assert.deepEqual(causes(facts([node(30, 1024, [listener(25)], 26)])), ['keepalive-leak:warning']);
  assert.deepEqual(causes(facts([node(61, 64, [listener(57)], 58)])), [
    'fd-exhaustion:critical',
    'keepalive-leak:critical',
  ]);
  assert.deepEqual(causes(facts([node(30, 1024, [listener(10)], 11)])), []);
  // Idle sockets that are a small share of a busy server's sockets are no leak.
  assert.deepEqual(causes(facts([node(500, 4096, [listener(25)], 400)])), []);
});

test('an error-log cause confirmed live gets the log lines as evidence; findings are ranked critical, live first', () => {
  const errorLog = {
    files: [],
    lines: {
      total: 3,
      nginx: 3,
      upstreamErrors: 3,
      unknownUpstream: 0,
      notNginx: 0,
      truncated: 0,
      proxy: 3,
      notProxy: 0,
    },
    formats: { nginx: 3 },
    ignored: { clientAbort: 0, appError: 0, healthCheck: 0 },
    statuses: { '502': 0, '503': 0, '504': 3, '500': 0, none: 0 },
    patterns: [
      {
        id: 'read-timeout',
        level: 'error' as const,
        format: 'nginx' as const,
        status: 504 as const,
        causes: ['slow-upstream', 'fd-exhaustion', 'keepalive-leak', 'backlog-overflow-tcp'] as const,
        count: 3,
        firstSeen: '2026/11/26 08:00:00',
        lastSeen: '2026/11/26 08:00:02',
        example: 'x',
        upstreams: [{ name: '127.0.0.1:8080', count: 3 }],
      },
    ],
    causes: [],
    upstreams: [],
    timeline: [],
    bucketS: 60,
  };
  const report = buildReport(resolveDoctorOptions(), facts([node(61, 64)]), errorLog, null);
  // The live finding picks fd-exhaustion among the readings of the read timeouts: the lines are its evidence, no second finding.
  assert.deepEqual(
    report.findings.map((f) => `${f.cause}:${f.severity}:${f.source}`),
    ['fd-exhaustion:critical:live'],
  );
  assert.equal(
    report.findings[0]!.evidence.at(-1)!,
    'error log: 3 line(s) of read-timeout (504) — this cause, shown live',
  );
  // Without live evidence the lines keep the catalogue's order of readings.
  const logOnly = buildReport(resolveDoctorOptions(), facts([node(1, 64)]), errorLog, null);
  assert.deepEqual(
    logOnly.findings.map((f) => `${f.cause}:${f.severity}:${f.source}`),
    ['slow-upstream:warning:error-log'],
  );
  assert.deepEqual(logOnly.findings[0]!.alsoConsistentWith, [
    'fd-exhaustion',
    'keepalive-leak',
    'backlog-overflow-tcp',
  ]);
  assert.equal(report.exitCode, 1);
  assert.equal(buildReport(resolveDoctorOptions(), facts([node(1, 64)]), null, null).exitCode, 0);
});

test('one finding per cause and process: a warning and a critical of the same pid merge into the critical, targets and evidence once', () => {
  const byPid = node(61, 64);
  const byPort: TargetFacts = { ...node(61, 64), label: 'port 8080', kind: 'port', port: 8080 };
  const other: TargetFacts = {
    ...node(61, 64),
    label: 'pid 43 (node)',
    process: { pid: 43, command: 'node', fds: { ...fds(61, 64), pid: 43 } },
  };
  const report = buildReport(resolveDoctorOptions(), facts([byPid, byPort, other]), null, null);
  assert.deepEqual(
    report.findings.map((f) => `${f.cause}:${f.target}`),
    ['fd-exhaustion:pid 42 (node), port 8080', 'fd-exhaustion:pid 43 (node)'],
  );
  assert.equal(report.findings[0]?.evidence.filter((e) => e.startsWith('fds by kind')).length, 1);
  const warn: TargetFacts = { ...node(52, 64), label: 'port 8080', kind: 'port', port: 8080 };
  const merged = buildReport(resolveDoctorOptions(), facts([warn, byPid]), null, null).findings;
  assert.deepEqual(
    merged.map((f) => `${f.severity}:${f.target}:${f.summary}`),
    ['critical:pid 42 (node), port 8080:61 of 64 fds in use (95%): accept() fails or is about to fail with EMFILE'],
  );
  assert.equal(merged[0]?.evidence.length, 4); // both readings: 52 and 61 fds open
});

test('unix sockets: idle keep-alive only from connections quiet across two samples (no timers), never from a count alone', () => {
  const unix = (quiet?: { count: number; connected: number; gapMs: number }) => ({
    kind: 'unix' as const,
    name: 'unix:/run/app.sock',
    path: '/run/app.sock',
    queue: 0,
    backlog: 128,
    pid: 42,
    connections: {
      states: { ESTABLISHED: 30 },
      total: 30,
      idle: null,
      idleMs: 10_000,
      maxIdleMs: null,
      ...(quiet ? { quiet } : {}),
    },
  });
  assert.deepEqual(causes(facts([node(40, 1024, [unix()], 31)])), []);
  assert.deepEqual(causes(facts([node(40, 1024, [unix({ count: 30, connected: 30, gapMs: 1000 })], 31)])), [
    'keepalive-leak:warning',
  ]);
  assert.deepEqual(causes(facts([node(40, 1024, [unix({ count: 5, connected: 30, gapMs: 1000 })], 31)])), []);
});
