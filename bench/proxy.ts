/**
 * Built-in proxy throughput as a ratio of real nginx's, both in front of the same node:http
 * upstream running in a child process (so the upstream never shares a core's event loop with the
 * proxy under test). Load comes from wrk (C, a separate process) when installed, else autocannon.
 * The machine is shared (2 cores, other processes come and go), so one run proves little: ROUNDS
 * short paired runs alternate nginx and built-in (which one goes first alternates too), each
 * round gives a ratio of two runs seconds apart, and the median of those ratios is the figure.
 * The proxies' CPU time per request is reported beside it: it depends far less on what else the
 * machine is doing than throughput does. Target: built-in ≥ 0.5× nginx's throughput.
 */
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { findNginx, startProxy, type ProxyHandle } from '../src/proxy/index.js';
import { which } from '../src/util/index.js';

const DURATION_S = 3;
const CONNECTIONS = 50;
const ROUNDS = 7;
const TARGET_RATIO = 0.5;

const UPSTREAM_SOURCE = `
const http = require('node:http');
const server = http.createServer((req, res) => { req.resume(); res.setHeader('content-type', 'text/plain'); res.end('hello world\\n'); });
server.keepAliveTimeout = 75000;
server.listen(0, '127.0.0.1', () => console.log('ready ' + server.address().port));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

async function startUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const child = spawn(process.execPath, ['-e', UPSTREAM_SOURCE], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return {
    url: `http://127.0.0.1:${line.slice('ready '.length)}`,
    async close() {
      child.stdin!.end();
      await exited;
    },
  };
}

/** CPU seconds (user + system) used so far by `pid` and its children's live threads: nginx master + workers. */
function nginxCpuS(masterPid: number): number {
  const pids = [masterPid];
  try {
    pids.push(
      ...readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number),
    );
  } catch {
    /* no children file: count the master only */
  }
  let ticks = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15 of stat)
  }
  return ticks / 100; // USER_HZ
}

const selfCpuS = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

interface Measured {
  rps: number;
  requests: number;
}

/** Requests per second from one closed-loop run against `url`. */
async function measure(url: string, durationS: number): Promise<Measured> {
  const wrk = which('wrk');
  if (wrk) {
    const { stdout } = await promisify(execFile)(wrk, ['-t1', `-c${CONNECTIONS}`, `-d${durationS}s`, `${url}/`]);
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
    const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(stdout);
    if (errors) console.log(`  (wrk: ${errors[0]})`);
    const requests = /(\d+) requests in/.exec(stdout);
    if (!rps || !requests) throw new Error(`cannot read wrk's output:\n${stdout}`);
    return { rps: Number(rps[1]), requests: Number(requests[1]) };
  }
  // autocannon runs in this process, so the built-in proxy's CPU figure includes the load; wrk is preferred.
  const { default: autocannon } = await import('autocannon');
  const result = await autocannon({ url, connections: CONNECTIONS, duration: durationS });
  return { rps: result.requests.average, requests: result.requests.total };
}

/** A run plus the proxy's CPU time per request (µs): a capacity figure that a busy machine distorts less. */
async function measureWithCpu(url: string, cpuS: () => number): Promise<Measured & { cpuUsPerRequest: number }> {
  const before = cpuS();
  const m = await measure(url, DURATION_S);
  return { ...m, cpuUsPerRequest: ((cpuS() - before) * 1e6) / Math.max(1, m.requests) };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export async function run(): Promise<void> {
  console.log(
    `proxy bench: built-in vs nginx, ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${DURATION_S} s each, load from ${which('wrk') ? 'wrk' : 'autocannon'}`,
  );
  if (!findNginx()) {
    console.log('  skipped: nginx is not installed (apt-get install nginx-light)');
    return;
  }
  const upstream = await startUpstream();
  const proxies: ProxyHandle[] = [];
  try {
    const nginx = await startProxy({ kind: 'nginx', upstream: upstream.url, keepalive: 64, workerConnections: 4096 });
    proxies.push(nginx);
    const builtin = await startProxy({ kind: 'builtin', upstream: upstream.url, keepalive: 64 });
    proxies.push(builtin);
    await measure(upstream.url, 1); // warm-up: JIT, connection pools
    await measure(nginx.url, 1);
    await measure(builtin.url, 2);
    const direct = (await measure(upstream.url, DURATION_S)).rps;
    const rounds: { nginx: Measured & { cpuUsPerRequest: number }; builtin: Measured & { cpuUsPerRequest: number } }[] =
      [];
    for (let round = 1; round <= ROUNDS; round++) {
      const runNginx = () => measureWithCpu(nginx.url, () => nginxCpuS(nginx.pid));
      const runBuiltin = () => measureWithCpu(builtin.url, selfCpuS);
      let n: Measured & { cpuUsPerRequest: number };
      let b: Measured & { cpuUsPerRequest: number };
      if (round % 2 === 1) {
        n = await runNginx();
        b = await runBuiltin();
      } else {
        b = await runBuiltin();
        n = await runNginx();
      }
      rounds.push({ nginx: n, builtin: b });
      console.log(
        `  round ${round}: nginx ${Math.round(n.rps)} req/s (${n.cpuUsPerRequest.toFixed(0)} µs CPU/req), ` +
          `built-in ${Math.round(b.rps)} req/s (${b.cpuUsPerRequest.toFixed(0)} µs CPU/req), ratio ${(b.rps / n.rps).toFixed(2)}x`,
      );
    }
    const nginxRps = median(rounds.map((r) => r.nginx.rps));
    const builtinRps = median(rounds.map((r) => r.builtin.rps));
    const nginxCpuUs = median(rounds.map((r) => r.nginx.cpuUsPerRequest));
    const builtinCpuUs = median(rounds.map((r) => r.builtin.cpuUsPerRequest));
    const ratios = rounds.map((r) => r.builtin.rps / r.nginx.rps);
    const ratio = median(ratios);
    console.log(`  upstream direct   ${Math.round(direct)} req/s`);
    console.log(
      `  nginx 1 worker    median ${Math.round(nginxRps)} req/s (${(nginxRps / direct).toFixed(2)}x direct), ${nginxCpuUs.toFixed(0)} µs proxy CPU/req`,
    );
    console.log(
      `  built-in proxy    median ${Math.round(builtinRps)} req/s (${(builtinRps / direct).toFixed(2)}x direct), ${builtinCpuUs.toFixed(0)} µs proxy CPU/req`,
    );
    console.log(
      `  ratio built-in/nginx throughput: median ${ratio.toFixed(2)}x (rounds ${Math.min(...ratios).toFixed(2)}..${Math.max(...ratios).toFixed(2)}) ` +
        `(target >= ${TARGET_RATIO}x) ${ratio >= TARGET_RATIO ? 'OK' : 'BELOW TARGET'}`,
    );
    console.log(
      `  ratio built-in/nginx CPU per request: median ${median(rounds.map((r) => r.builtin.cpuUsPerRequest / r.nginx.cpuUsPerRequest)).toFixed(1)}x`,
    );
  } finally {
    for (const p of proxies) await p.close();
    await upstream.close();
  }
}
