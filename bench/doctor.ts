/**
 * Benchmarks of `badgateway doctor` (targets: docs/architecture.md), against peers measured in the same run:
 *
 * 1. Classify a generated ~1 GB nginx error log (real line shapes recorded from nginx 1.22.1, plus
 *    the startup/info noise a real log has): target < 10 s and < 150 MB RSS; the first target asked for
 *    within 3× of `grep -cE` of the five cause patterns. The classifier runs in a child process
 *    (the library, as the CLI uses it) so its maxRSS is its own. Peers: `grep -cE` (five
 *    patterns), `grep -c` (one), `wc -l`.
 *    The same for a 1 GiB HAProxy log (`option httplog` lines recorded from HAProxy 2.6, the
 *    failures among as many ordinary 200s), against `grep -cE` of the termination states that
 *    stand for causes.
 * 2. Inspect a process holding 20,000 fds (`runDoctor({ pids })`): half of them idle loopback
 *    connections (what holds the fds is read: every socket's state from /proc/PID/net/tcp), half
 *    /dev/null: target < 1 s; peer `ls /proc/PID/fd | wc -l`.
 * 3. `doctor --follow` on a log growing by 50,000 lines/s (the recorded shapes): target: it keeps
 *    up (every line counted) at < 1 core; peer `tail -F` on the same stream.
 *
 * The log is written to a temp dir and deleted afterwards, also on failure.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createProxyLogClassifier } from '../src/causes/index.js';
import { createServer as createNetServer } from 'node:net';
import { createUpstreamSampler, runDoctor } from '../src/doctor/index.js';
import { createTempDir, which } from '../src/util/index.js';

const LOG_BYTES = 1024 * 1024 * 1024;
const BLOCK_BYTES = 8 * 1024 * 1024;
const TARGET_FDS = 20_000;
const FIXTURE = fileURLToPath(new URL('../../test/doctor/fixtures/nginx-error.log', import.meta.url));
const DOCTOR = fileURLToPath(new URL('../src/doctor/index.js', import.meta.url));
const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const GREP_FIVE =
  'Resource temporarily unavailable|Too many open files|Connection timed out|prematurely closed|Connection refused';
const HAPROXY_FIXTURE = fileURLToPath(new URL('../../test/doctor/fixtures/haproxy.log', import.meta.url));
/** The termination states of HAProxy that stand for a cause (its grep equivalent of GREP_FIVE). */
const GREP_HAPROXY = ' (S[CHD]|s[CHDQ]|PH|[PR]C)-- ';

/** Noise a production error log has besides upstream errors (not counted as errors). */
const NOISE = [
  '[notice] 1200#1200: signal process started',
  '[info] 1201#1201: *77 client 10.0.0.9 closed keepalive connection',
  '[warn] 1201#1201: *78 an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/1/00/0000000001 while reading upstream, client: 10.0.0.9, server: _, request: "GET /big HTTP/1.1", upstream: "http://10.0.1.5:8080/big", host: "example.org"',
  '[error] 1201#1201: *79 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 10.0.0.9, server: _, request: "GET /favicon.ico HTTP/1.1", host: "example.org"',
];

/** One block of varied lines: real shapes with their time, connection id and upstream port varied. */
export async function makeBlock(): Promise<Buffer> {
  const shapes = (await readFile(FIXTURE, 'utf8'))
    .split('\n')
    .filter((l) => l.length > 20)
    .map((l) => l.slice(20)); // without the time
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < BLOCK_BYTES; i++) {
    const t = i >> 6; // 64 lines per second
    const time = `2026/11/${String(20 + (((t / 86400) | 0) % 8)).padStart(2, '0')} ${String(((t / 3600) | 0) % 24).padStart(2, '0')}:${String(((t / 60) | 0) % 60).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
    const body =
      i % 5 === 4
        ? NOISE[i % NOISE.length]!
        : shapes[i % shapes.length]!.replace(/\*\d+ /, `*${i} `).replace(/:1808(\d)/g, `:${18080 + (i % 7)}`);
    const line = `${time} ${body}\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join(''));
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * One block of HAProxy httplog lines: the recorded ones (SC--, sC--, SH--, sH--, SD--, sD--, 200s)
 * with time, client port and status varied, every other line an ordinary 200 as most of a real log is.
 */
export async function makeHaproxyBlock(): Promise<Buffer> {
  const recorded = (await readFile(HAPROXY_FIXTURE, 'utf8'))
    .split('\n')
    .filter((l) => / \[\d\d\/\w{3}\/\d{4}:/.test(l));
  const ok = recorded.find((l) => / 200 \d+ - - ---- /.test(l))!;
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < BLOCK_BYTES; i++) {
    const t = i >> 6;
    const day = String(20 + (((t / 86400) | 0) % 8)).padStart(2, '0');
    const time = `${day}/${MONTHS[10]}/2026:${String(((t / 3600) | 0) % 24).padStart(2, '0')}:${String(((t / 60) | 0) % 60).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}`;
    const shape = i % 2 === 0 ? ok : recorded[i % recorded.length]!;
    const line = `${shape.replace(/^127\.0\.0\.1:\d+ \[[^\]]+\]/, `10.0.${i % 256}.${(i >> 8) % 256}:${1024 + (i % 60000)} [${time}]`)}\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join(''));
}

async function writeLog(path: string, block: Buffer): Promise<number> {
  const handle = await open(path, 'w');
  let written = 0;
  try {
    while (written < LOG_BYTES) {
      await handle.write(block);
      written += block.length;
    }
  } finally {
    await handle.close();
  }
  return written;
}

const CHILD = `
const { summarizeProxyLogs } = await import(process.argv[1]);
const start = performance.now();
const cpu0 = process.cpuUsage();
const s = await summarizeProxyLogs([{ file: process.argv[2], format: process.argv[3] }]);
const ms = performance.now() - start;
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, maxRssKb: process.resourceUsage().maxRSS, lines: s.lines }));
`;

interface Timing {
  /** Wall clock, ms. */
  ms: number;
  /** User + system CPU, ms (all threads): what a loaded machine distorts least. */
  cpuMs: number;
}

/** Best of `rounds` runs of a command under /usr/bin/time (wall and CPU). */
function timeCommand(cmd: string, args: string[], rounds = 2): Timing {
  let best: Timing = { ms: Infinity, cpuMs: Infinity };
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    const r = spawnSync('/usr/bin/time', ['-f', '%U %S', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const ms = performance.now() - start;
    const [user, sys] = (r.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
    const cpuMs = ((user ?? Number.NaN) + (sys ?? Number.NaN)) * 1000;
    if (ms < best.ms) best = { ms, cpuMs };
  }
  return best;
}

const ratio = (a: Timing, b: Timing): string =>
  `wall ${(a.ms / b.ms).toFixed(2)}×, cpu ${(a.cpuMs / b.cpuMs).toFixed(2)}×`;
const fmt = (t: Timing): string => `${(t.ms / 1000).toFixed(2)} s (cpu ${(t.cpuMs / 1000).toFixed(2)} s)`;

async function benchLog(format: 'nginx' | 'haproxy'): Promise<void> {
  const dir = await createTempDir('doctor-bench');
  try {
    const file = dir.file(format === 'nginx' ? 'error.log' : 'haproxy.log');
    const bytes = await writeLog(file, format === 'nginx' ? await makeBlock() : await makeHaproxyBlock());
    // Warm the page cache for every contender alike.
    timeCommand('wc', ['-l', file], 1);
    const wc = timeCommand('wc', ['-l', file]);
    const grepOne = timeCommand('grep', ['-c', 'upstream', file]);
    const grepFive = timeCommand('grep', ['-cE', format === 'nginx' ? GREP_FIVE : GREP_HAPROXY, file]);
    let r: (Timing & { maxRssKb: number; lines: { total: number; upstreamErrors: number } }) | undefined;
    for (let i = 0; i < 2; i++) {
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, DOCTOR, file, format], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
      if (child.status !== 0) throw new Error(`classifier child failed: ${child.stderr}`);
      const run = JSON.parse(child.stdout) as NonNullable<typeof r>;
      if (!r || run.ms < r.ms) r = { ...run, maxRssKb: Math.max(run.maxRssKb, r?.maxRssKb ?? 0) };
    }
    if (!r) return;
    const mb = bytes / 1024 / 1024;
    console.log(
      `doctor: ${format === 'nginx' ? 'nginx error log' : 'HAProxy log'} ${mb.toFixed(0)} MiB, ${r.lines.total} lines (${r.lines.upstreamErrors} upstream errors); best of 2, wall and CPU (user+sys, all threads)`,
    );
    console.log(
      `  classify (doctor)   ${fmt(r)}  ${(mb / (r.ms / 1000)).toFixed(0)} MiB/s  maxRSS ${(r.maxRssKb / 1024).toFixed(0)} MB  (targets < 10 s, < 150 MB)`,
    );
    console.log(
      `  grep -cE (${format === 'nginx' ? '5 causes' : 'states'}) ${fmt(grepFive)}  → doctor / grep -cE: ${ratio(r, grepFive)} (first target ≤ 3×; next: ≤ 1× wall, ≤ 2× CPU)`,
    );
    console.log(`  grep -c (1 pattern) ${fmt(grepOne)}  → doctor / grep -c:  ${ratio(r, grepOne)}`);
    console.log(`  wc -l               ${fmt(wc)}  → doctor / wc -l:    ${ratio(r, wc)}`);
  } finally {
    await dir.close();
  }
}

// Listens first (a listener for doctor to look at), connects to itself until half the fds are
// sockets (idle keep-alive connections, both ends in this process), then opens /dev/null up to
// 20,000 fds or the hard limit (20,000 here).
const HOLDER = `
const fs = require('fs');
const net = require('net');
const kept = [];
const server = net.createServer((s) => kept.push(s)).listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  for (let i = 0; i < ${TARGET_FDS / 4}; i++) {
    await new Promise((resolve) => { const c = net.connect(port, '127.0.0.1', resolve); c.on('error', resolve); kept.push(c); });
  }
  let open = fs.readdirSync('/proc/self/fd').length - 1;
  for (; open < ${TARGET_FDS}; open++) { try { fs.openSync('/dev/null', 'r'); } catch { break; } }
  console.log(open);
});
setInterval(() => {}, 1000);
`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function benchFds(): Promise<void> {
  const child = spawn(process.execPath, ['-e', HOLDER], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    const pid = child.pid as number;
    const doctorMs: number[] = [];
    const lsMs: number[] = [];
    let open = 0;
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      const report = await runDoctor({ pids: [pid], intervalMs: 0 });
      doctorMs.push(performance.now() - start);
      open = report.facts?.targets[0]?.process?.fds.open ?? 0;
      const lsStart = performance.now();
      execFileSync('sh', ['-c', `ls /proc/${pid}/fd | wc -l`]);
      lsMs.push(performance.now() - lsStart);
    }
    const d = median(doctorMs);
    const l = median(lsMs);
    console.log(
      `doctor: --pid on a process with ${open} fds, half of them idle loopback connections (child opened ${line.trim()})`,
    );
    console.log(`  runDoctor({ pids })  ${d.toFixed(0)} ms (median of 5; target < 1000 ms)`);
    console.log(`  ls /proc/PID/fd | wc -l  ${l.toFixed(0)} ms  → doctor / ls = ${(d / l).toFixed(2)}×`);
  } finally {
    child.kill('SIGKILL');
  }
}

/** Instructions a command executes, counted by callgrind (the `I refs` total it prints). */
function instructions(cmd: string, args: string[]): number {
  const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', cmd, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 22,
  });
  const m = /I\s+refs:\s+([\d,]+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`callgrind failed on ${cmd}: ${r.stderr.slice(-500)}`);
  return Number(m[1]!.replaceAll(',', ''));
}

const CALLGRIND_BYTES = 32 * 1024 * 1024;

/**
 * The classifier against `grep -cE` in instructions (callgrind), which the machine's other load
 * does not move, unlike seconds: one thread on a 32 MiB log, less a run on a one-line log (Node's
 * start-up). Needs valgrind; BENCH_CALLGRIND=0 skips it (about a minute).
 */
async function benchInstructions(): Promise<void> {
  if (process.env.BENCH_CALLGRIND === '0') return;
  if (!which('valgrind')) {
    console.log('doctor: valgrind is not installed, no instruction counts (apt-get install valgrind)');
    return;
  }
  const dir = await createTempDir('bench');
  try {
    const block = await makeBlock();
    const handle = await open(dir.file('log'), 'w');
    try {
      for (let written = 0; written < CALLGRIND_BYTES; written += block.length) await handle.write(block);
    } finally {
      await handle.close();
    }
    await writeFile(dir.file('one'), block.subarray(0, block.indexOf(10) + 1));
    const classify = (file: string): number =>
      instructions(process.execPath, [
        '--input-type=module',
        '-e',
        `const { summarizeErrorLogs } = await import(process.argv[1]); await summarizeErrorLogs([process.argv[2]], { workers: 1 });`,
        DOCTOR,
        file,
      ]);
    const doctor = classify(dir.file('log')) - classify(dir.file('one'));
    const grep = instructions('grep', ['-cE', GREP_FIVE, dir.file('log')]);
    const mb = CALLGRIND_BYTES / 1024 / 1024;
    console.log(
      `doctor: instructions (callgrind) to classify a ${mb} MiB error log, one thread, Node's start-up subtracted`,
    );
    console.log(`  classify (doctor)   ${(doctor / 1e6).toFixed(0)} M`);
    console.log(
      `  grep -cE (5 causes) ${(grep / 1e6).toFixed(0)} M  → doctor / grep -cE = ${(doctor / grep).toFixed(2)}×`,
    );
  } finally {
    await dir.close();
  }
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

const FOLLOW_RATE = 50_000;
const FOLLOW_SECONDS = 5;

/**
 * Appends FOLLOW_RATE lines a second (the recorded shapes, 10 ms batches) for FOLLOW_SECONDS to a
 * file followed by `follower`; returns its CPU use in cores while the lines came, and what it read.
 */
async function followRun(
  dir: { file(name: string): string },
  follower: (file: string) => string[],
  label: string,
  block: string[],
): Promise<{ cores: number; stdout: string }> {
  const file = dir.file(`${label}.log`);
  await writeFile(file, '');
  const [cmd, ...args] = follower(file);
  const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  try {
    await new Promise((resolve) => setTimeout(resolve, 1500)); // started and following
    const handle = await open(file, 'a');
    const cpu0 = cpuSeconds(child.pid!);
    const t0 = performance.now();
    let written = 0;
    const perBatch = FOLLOW_RATE / 100;
    for (let batch = 0; batch < FOLLOW_SECONDS * 100; batch++) {
      const due = t0 + batch * 10;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const lines: string[] = [];
      for (let i = 0; i < perBatch; i++) lines.push(block[(written + i) % block.length]!);
      written += perBatch;
      await handle.write(`${lines.join('\n')}\n`);
    }
    await handle.close();
    await new Promise((resolve) => setTimeout(resolve, 500)); // the last poll
    const wall = (performance.now() - t0) / 1000;
    const cores = (cpuSeconds(child.pid!) - cpu0) / wall;
    // Ctrl-C: doctor closes its open incidents and prints them.
    const exited = once(child, 'close');
    child.kill('SIGINT');
    await exited;
    return { cores, stdout };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

async function benchFollow(): Promise<void> {
  const dir = await createTempDir('bench');
  try {
    // Lines as the fixture has them, with the upstreams' sockets in a dir where nothing listens
    // (every sample finds nothing: the sampling stays as cheap as it gets, the rate limit holds it).
    const shapes = (await readFile(FIXTURE, 'utf8')).split('\n').filter((l) => l.length > 20);
    const block = Array.from({ length: 5000 }, (_, i) => shapes[i % shapes.length]!.replace(/\*\d+ /, `*${i} `));
    // The lines --follow groups into incidents: upstream errors with a status or a cause.
    const classifier = createProxyLogClassifier();
    const upstreamLines =
      block.filter((l) => {
        const c = classifier.classify(l);
        return c !== undefined && !(c.status === null && c.causes.length === 0);
      }).length / block.length;
    const doctor = await followRun(
      dir,
      (file) => [
        process.execPath,
        BIN,
        'doctor',
        '--follow',
        '--nginx-error-log',
        file,
        '--json',
        '--no-proxy-discovery',
        '--close-after',
        '60s',
      ],
      'doctor',
      block,
    );
    const tail = await followRun(dir, (file) => ['tail', '-n', '0', '-F', file], 'tail', block);
    const events = doctor.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; incident?: { lines: number; sampled: number; skipped: number } });
    const closed = events.filter((e) => e.event === 'closed').map((e) => e.incident!);
    const counted = closed.reduce((n, i) => n + i.lines, 0);
    const sampled = closed.reduce((n, i) => n + i.sampled, 0);
    const expected = Math.round(FOLLOW_RATE * FOLLOW_SECONDS * upstreamLines);
    console.log(
      `doctor: --follow on a log growing by ${FOLLOW_RATE.toLocaleString('en')} lines/s for ${FOLLOW_SECONDS} s (${Math.round(upstreamLines * 100)}% upstream errors)`,
    );
    console.log(
      `  doctor --follow  ${doctor.cores.toFixed(2)} cores (target < 1); ${counted.toLocaleString('en')} lines in ${closed.length} incidents (${expected.toLocaleString('en')} written); ${sampled} samples`,
    );
    console.log(
      `  tail -F          ${tail.cores.toFixed(2)} cores  → doctor / tail = ${(doctor.cores / Math.max(tail.cores, 0.01)).toFixed(1)}×`,
    );
  } finally {
    await dir.close();
  }
}

/** What one --follow sample of a unix listener costs (median of 30), against one `ss -xanH` run alone. */
async function benchSample(): Promise<void> {
  const dir = await createTempDir('bench');
  const server = createNetServer().listen(dir.file('app.sock'));
  try {
    await once(server, 'listening');
    const sample = createUpstreamSampler();
    const target = { unixSocket: dir.file('app.sock') };
    const costs: number[] = [];
    const ss: number[] = [];
    for (let i = 0; i < 31; i++) {
      const s = await sample('unix:x', target, 0);
      if (i > 0) costs.push(s.costMs); // the first one loads code
      const t = performance.now();
      spawnSync('ss', ['-xanH'], { encoding: 'utf8' });
      ss.push(performance.now() - t);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const c = median(costs);
    const p = median(ss);
    console.log(
      `doctor: one --follow sample of a unix listener (queue, backlog, states, owner's fds): ${c.toFixed(1)} ms median of 30 (target < 20 ms)`,
    );
    console.log(`  ss -xanH alone  ${p.toFixed(1)} ms  → sample / ss = ${(c / p).toFixed(2)}×`);
  } finally {
    server.close();
    await dir.close();
  }
}

/** Runs the benchmarks and prints times, RSS, instructions and ratios. */
export async function run(): Promise<void> {
  await benchFds();
  await benchSample();
  await benchFollow();
  await benchLog('nginx');
  await benchLog('haproxy');
  await benchInstructions();
}
