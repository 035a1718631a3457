import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { createTempDir, sleep, which, type TempDir } from '../src/util/index.js';
import { runCommand, type CliResult, startCustomNginx } from '../src/testing/index.js';

/**
 * Benchmark of `badgateway load` against the same local target in one run (real nginx `return
 * 200;` when installed, else a bare node:http server in a child process):
 * 1. max rate of `--rate 0` vs autocannon and wrk (same connections and duration, interleaved rounds);
 * 2. achieved/asked at `--rate 5000` for 10 s;
 * 3. peak RSS of a 1,000,000-request run (`/usr/bin/time -v`) next to a 100,000-request one.
 * Knobs: BENCH_LOAD_SECONDS (max-rate run length, 4), BENCH_LOAD_ROUNDS (5),
 * BENCH_LOAD_REQUESTS (1000000).
 */

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const AUTOCANNON = fileURLToPath(new URL('../../node_modules/autocannon/autocannon.js', import.meta.url));
const CONNECTIONS = 50;
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

interface Target {
  kind: string;
  url: string;
  close(): Promise<void>;
  /** Last-resort stop from a process 'exit' handler (Ctrl-C, a closed stdout pipe). */
  killSync(): void;
}

/** A command run to completion (load runs are long: killed only after 10 minutes). */
const exec = (cmd: string, args: string[]): Promise<CliResult> => runCommand(cmd, args, { timeoutMs: 600_000 });

async function timed(cmd: string, args: string[], dir: TempDir): Promise<CliResult & { cpuS: number }> {
  if (!TIME) return { ...(await exec(cmd, args)), cpuS: Number.NaN };
  const out = dir.file('time.txt');
  const r = await exec(TIME, ['-o', out, '-f', '%U %S', cmd, ...args]);
  const [user, sys] = readFileSync(out, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { ...r, cpuS: user! + sys! };
}

/** nginx answering `return 200` (the issue's target): the test helper for hand-written configs. */
async function startNginx(nginx: string): Promise<Target> {
  const server = await startCustomNginx({ events: ['worker_connections 4096;'], location: ['return 200 "ok";'] });
  return {
    kind: `nginx (${nginx}, 1 worker, return 200)`,
    url: `${server.url}/`,
    close: server.close,
    // startCustomNginx kills nginx's whole process group on exit by itself.
    killSync: () => {},
  };
}

async function startNode(): Promise<Target> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s=require('http').createServer((q,r)=>r.end('ok'));s.listen(0,'127.0.0.1',()=>console.log(s.address().port))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  return {
    kind: 'bare node:http in a child process',
    url: `http://127.0.0.1:${port}/`,
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
    killSync: () => child.kill('SIGKILL'),
  };
}

interface LoadJson {
  requests: number;
  rate: { asked: number; achieved: number };
  latenciesMs: { p50: number; p99: number; max: number };
  serviceLatenciesMs: { p99: number };
  sendLagMs: { mean: number; p99: number; max: number };
  errors: Record<string, number>;
  unsent: number;
}

async function ours(args: string[]): Promise<LoadJson> {
  const r = await exec(process.execPath, [BIN, 'load', ...args, '--json']);
  if (r.code !== 0) throw new Error(`badgateway load failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as LoadJson;
}

/** One closed-loop run: requests per second of wall time, and CPU µs the tool spent per request. */
interface MaxRun {
  rate: number;
  cpuUsPerRequest: number;
}

async function oursMax(url: string, seconds: number, dir: TempDir): Promise<MaxRun> {
  const r = await timed(
    process.execPath,
    [BIN, 'load', url, '--rate', '0', '--connections', String(CONNECTIONS), '--duration', `${seconds}s`, '--json'],
    dir,
  );
  if (r.code !== 0) throw new Error(`badgateway load failed (${r.code}): ${r.stderr}`);
  const m = JSON.parse(r.stdout) as LoadJson;
  if (Object.keys(m.errors).length > 0) console.log(`   (badgateway saw errors: ${JSON.stringify(m.errors)})`);
  return { rate: m.rate.achieved, cpuUsPerRequest: (r.cpuS * 1e6) / m.requests };
}

async function autocannonMax(url: string, seconds: number, dir: TempDir): Promise<MaxRun> {
  const r = await timed(
    process.execPath,
    [AUTOCANNON, '-c', String(CONNECTIONS), '-d', String(seconds), '--json', url],
    dir,
  );
  const m = JSON.parse(r.stdout) as { requests: { total: number }; duration: number };
  return { rate: m.requests.total / m.duration, cpuUsPerRequest: (r.cpuS * 1e6) / m.requests.total };
}

async function wrkMax(wrk: string, url: string, seconds: number, dir: TempDir): Promise<MaxRun> {
  const r = await timed(wrk, ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, url], dir);
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  const total = /(\d+) requests in/.exec(r.stdout);
  if (!rate || !total) throw new Error(`wrk output not understood: ${r.stdout}${r.stderr}`);
  return { rate: Number(rate[1]), cpuUsPerRequest: (r.cpuS * 1e6) / Number(total[1]) };
}

async function peakRss(
  url: string,
  requests: number,
  dir: TempDir,
): Promise<{ rssMb: number; requests: number; seconds: number }> {
  const started = Date.now();
  const r = await exec('/usr/bin/time', [
    '-v',
    process.execPath,
    BIN,
    'load',
    url,
    '--rate',
    '0',
    '--connections',
    String(CONNECTIONS),
    '--requests',
    String(requests),
    '--duration',
    '30m',
    '--output',
    dir.file(`rss-${requests}.ndjson`),
    '--json',
  ]);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  if (r.code !== 0 || !rss) throw new Error(`RSS run failed (${r.code}): ${r.stderr.slice(0, 500)}`);
  const m = JSON.parse(r.stdout) as LoadJson;
  return { rssMb: Number(rss[1]) / 1024, requests: m.requests, seconds: (Date.now() - started) / 1000 };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const f0 = (n: number): string => n.toFixed(0);
const f2 = (n: number): string => n.toFixed(2);

/** Runs the load benchmark and prints its figures and ratios. */
export async function run(): Promise<void> {
  const seconds = Number(process.env['BENCH_LOAD_SECONDS'] ?? 4);
  const rounds = Number(process.env['BENCH_LOAD_ROUNDS'] ?? 5);
  const requests = Number(process.env['BENCH_LOAD_REQUESTS'] ?? 1_000_000);
  const dir = await createTempDir('bench-load');
  const nginx = await which('nginx');
  const wrk = await which('wrk');
  const target = nginx ? await startNginx(nginx) : await startNode();
  // Interrupted or piped into `head`: still stop the target and remove the temp dir.
  const onExit = (): void => {
    target.killSync();
    dir.closeSync();
  };
  const onSignal = (): void => process.exit(130);
  process.once('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.stdout.on('error', onSignal);
  try {
    console.log(`target: ${target.kind} at ${target.url}`);
    console.log(
      `1. max rate, closed loop, ${CONNECTIONS} connections, ${seconds} s, ${rounds} interleaved rounds (req/s)`,
    );
    const tools: [string, () => Promise<MaxRun>][] = [
      ['badgateway', () => oursMax(target.url, seconds, dir)],
      ['autocannon', () => autocannonMax(target.url, seconds, dir)],
      ...(wrk ? ([['wrk', () => wrkMax(wrk, target.url, seconds, dir)]] as [string, () => Promise<MaxRun>][]) : []),
    ];
    const runs: Record<string, MaxRun[]> = Object.fromEntries(tools.map(([name]) => [name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const [name, measure] of tools) {
        runs[name]!.push(await measure());
        await sleep(300);
      }
      const row = tools.map(
        ([name]) =>
          `${name} ${f0(runs[name]![round - 1]!.rate)} (${f0(runs[name]![round - 1]!.cpuUsPerRequest)} µs CPU/req)`,
      );
      console.log(`   round ${round}: ${row.join(', ')}`);
    }
    const rates = (name: string): number[] => runs[name]!.map((r) => r.rate);
    const cpu = (name: string): number[] => runs[name]!.map((r) => r.cpuUsPerRequest);
    // Neighbouring runs share the machine's mood: the median of per-round ratios is the steadier figure.
    const perRound = (peer: string): number => median(runs['badgateway']!.map((r, i) => r.rate / runs[peer]![i]!.rate));
    console.log(`   median req/s: ${tools.map(([name]) => `${name} ${f0(median(rates(name)))}`).join(', ')}`);
    console.log(
      `   median CPU µs per request: ${tools.map(([name]) => `${name} ${f2(median(cpu(name)))}`).join(', ')}`,
    );
    for (const peer of tools.slice(1).map(([name]) => name)) {
      console.log(
        `   badgateway/${peer}: rate ${f2(perRound(peer))} (median of rounds; of medians ${f2(median(rates('badgateway')) / median(rates(peer)))}),` +
          ` CPU efficiency ${f2(median(cpu(peer)) / median(cpu('badgateway')))}×${peer === 'autocannon' ? ' (target ≥ 1.2)' : ''}`,
      );
    }

    console.log('2. open loop, --rate 5000 for 10 s');
    const open = await ours([target.url, '--rate', '5000', '--duration', '10s', '--connections', String(CONNECTIONS)]);
    console.log(
      `   requests ${open.requests} of 50000, achieved ${f2(open.rate.achieved)} req/s: achieved/asked ${(open.rate.achieved / 5000).toFixed(4)} (target within 1%)` +
        `; unsent ${open.unsent}; send lag mean ${open.sendLagMs.mean} ms p99 ${open.sendLagMs.p99} ms; latency p50 ${open.latenciesMs.p50} ms p99 ${open.latenciesMs.p99} ms (uncorrected p99 ${open.serviceLatenciesMs.p99} ms); errors ${JSON.stringify(open.errors)}`,
    );

    console.log(`3. peak RSS (/usr/bin/time -v), --rate 0, results streamed to --output`);
    const small = await peakRss(target.url, Math.round(requests / 10), dir);
    console.log(`   ${small.requests} requests: ${f0(small.rssMb)} MB in ${f0(small.seconds)} s`);
    const big = await peakRss(target.url, requests, dir);
    console.log(
      `   ${big.requests} requests: ${f0(big.rssMb)} MB in ${f0(big.seconds)} s (×${f2(big.rssMb / small.rssMb)} the RSS for ×10 the requests)`,
    );
  } finally {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.off('error', onSignal);
    await target.close();
    await dir.close();
  }
}
