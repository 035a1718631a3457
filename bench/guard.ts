/**
 * badgateway/guard's cost: req/s of the same tiny server bare, guarded (every rule on), with the
 * seed's per-request /proc scan, and Fastify bare / with @fastify/under-pressure / with the guard
 * plugin — each server with 1,000 fds open, in its own child process, loaded by wrk (or
 * autocannon) from another process. Rounds alternate the variants so drift hits all alike; the
 * median per variant is compared with its bare peer from the same run.
 */
import { spawn, execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import { which } from '../src/util/index.js';
import type { Variant } from './guard-server.js';

const SERVER = fileURLToPath(new URL('./guard-server.js', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 2);
const CONNECTIONS = 50;
/** USER_HZ: /proc/PID/stat counts CPU time in these (100 on every Linux build that matters). */
const CLOCK_TICKS_PER_S = 100;
/** Variants measured back to back (a variant right next to its peer), order flipped every round. */
const ALL_GROUPS: Variant[][] = [
  ['bare', 'guarded', 'seed-scan'],
  ['fastify', 'fastify-empty-hook', 'fastify-under-pressure', 'fastify-guarded'],
];
/** BENCH_ONLY=bare,guarded narrows the run to those variants. */
const ONLY = process.env.BENCH_ONLY?.split(',');
const GROUPS = ALL_GROUPS.map((g) => g.filter((v) => !ONLY || ONLY.includes(v))).filter((g) => g.length > 0);
/** Every variant measured, in the groups' order. */
const ORDER: Variant[] = GROUPS.flat();
/** [variant, its peer, target ratio or undefined] */
const RATIOS: Array<[Variant, Variant, number | undefined]> = [
  ['guarded', 'bare', 0.97],
  ['seed-scan', 'bare', undefined],
  ['fastify-under-pressure', 'fastify', undefined],
  ['fastify-guarded', 'fastify', undefined],
  ['fastify-empty-hook', 'fastify', undefined],
  ['fastify-under-pressure', 'fastify-empty-hook', undefined],
  ['fastify-guarded', 'fastify-empty-hook', 0.97],
];

const run$ = promisify(execFile);

interface Server {
  pid: number;
  port: number;
  close(): Promise<void>;
}

async function startServer(variant: Variant, cpu: string | undefined): Promise<Server> {
  const args = [SERVER, variant];
  const child = cpu
    ? spawn('taskset', ['-c', cpu, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^listening on (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)));
  });
  return {
    pid: child.pid!,
    port,
    async close() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

interface LoadResult {
  rps: number;
  requests: number;
}

async function load(
  port: number,
  durationS: number,
  wrk: string | undefined,
  cpu: string | undefined,
): Promise<LoadResult> {
  const url = `http://127.0.0.1:${port}/`;
  if (wrk) {
    const args = ['-t1', `-c${CONNECTIONS}`, `-d${durationS}s`, url];
    const { stdout } = cpu ? await run$('taskset', ['-c', cpu, wrk, ...args]) : await run$(wrk, args);
    const m = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
    const n = /(\d+) requests in/.exec(stdout);
    if (!m || !n) throw new Error(`unexpected wrk output: ${stdout}`);
    // A 503 would mean the guard shed: then the figures compare nothing. Socket timeouts happen
    // on a busy machine and are reported, not fatal.
    const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
    if (non2xx) throw new Error(`load saw ${non2xx[1]} non-2xx responses on port ${port}`);
    const socketErrors = /Socket errors: (.*)/.exec(stdout);
    if (socketErrors) console.log(`    (wrk on port ${port}: socket errors ${socketErrors[1]})`);
    return { rps: Number(m[1]), requests: Number(n[1]) };
  }
  const { default: autocannon } = await import('autocannon');
  const result = await autocannon({ url, connections: CONNECTIONS, duration: durationS });
  if (result.non2xx > 0) throw new Error(`load saw ${result.non2xx} non-2xx responses on port ${port}`);
  return { rps: result.requests.average, requests: result.requests.total };
}

/** CPU time (user + system) a process has used, in clock ticks (/proc/PID/stat fields 14 + 15). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** The q-quantile of xs, interpolated between the two nearest ranks (q = 0.5 is the median). */
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (at - lo);
};
const median = (xs: number[]): number => quantile(xs, 0.5);

const GUARD = fileURLToPath(new URL('../src/guard/index.js', import.meta.url));
/** The sampler's fd count in a process with many fds, against listing /proc/self/fd (what it did before). */
const SAMPLER_CHILD = `
const { createGuard } = await import(process.argv[1]);
const { openSync, readFileSync } = await import('node:fs');
const { readdir } = await import('node:fs/promises');
const hard = Number(/Max open files\\s+\\d+\\s+(\\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))[1]);
const want = Math.min(20000, hard - 200);
for (let i = 0; i < want; i++) openSync('/dev/null', 'r');
const guard = createGuard({ sampleIntervalMs: 60000 });
const cpuMs = async (f) => { for (let i = 0; i < 5; i++) await f(); const c0 = process.cpuUsage(); for (let i = 0; i < 40; i++) await f(); const c = process.cpuUsage(c0); return (c.user + c.system) / 1000 / 40; };
const sample = await cpuMs(() => guard.sample());
const listing = await cpuMs(() => readdir('/proc/self/fd'));
console.log(JSON.stringify({ fds: guard.metrics().fdsOpen, sample, listing }));
guard.close();
`;

async function samplerCost(): Promise<void> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', SAMPLER_CHILD, GUARD]);
  const r = JSON.parse(stdout) as { fds: number; sample: number; listing: number };
  const perS = (ms: number): string => `${((ms * 4) / 10).toFixed(2)}% of a core at 4 samples/s`;
  console.log(`guard: the sampler's fd count in a process with ${r.fds} fds, CPU per sample (mean of 40)`);
  console.log(`  guard.sample()                 ${r.sample.toFixed(3)} ms   (${perS(r.sample)})`);
  console.log(
    `  readdir('/proc/self/fd')       ${r.listing.toFixed(3)} ms   (${perS(r.listing)})  → sample / listing = ${(r.sample / r.listing).toFixed(3)}`,
  );
}

/** Runs the guard benchmark and prints req/s per variant and the ratios to their peers. */
export async function run(): Promise<void> {
  await samplerCost();
  const wrk = await which('wrk');
  // BENCH_PIN=1: server on cpu 0, load on cpu 1 (only useful on an otherwise idle machine).
  const pin = process.env.BENCH_PIN === '1' && (await which('taskset')) !== undefined;
  const serverCpu = pin ? '0' : undefined;
  const loadCpu = pin ? '1' : undefined;
  console.log(
    `guard: ${ROUNDS} rounds × ${ORDER.length} servers × ${DURATION_S} s, ${CONNECTIONS} connections, load by ${wrk ? 'wrk' : 'autocannon'}` +
      `${pin ? ', server on cpu 0, load on cpu 1' : ''}, 1,000 extra fds open in each server`,
  );
  // All servers up at once (idle ones cost nothing), so rounds can alternate quickly.
  const servers = new Map<Variant, Server>();
  try {
    for (const v of ORDER) servers.set(v, await startServer(v, serverCpu));
    for (const v of ORDER) await load(servers.get(v)!.port, 1, wrk, loadCpu); // warm-up: JIT, sockets
    const results = new Map<Variant, number[]>(ORDER.map((v) => [v, []]));
    // Requests served per CPU-second of the server process: what a server with a core to itself
    // reaches. Unlike req/s it hardly moves when other processes compete for the CPUs.
    const efficiency = new Map<Variant, number[]>(ORDER.map((v) => [v, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Peers run next to each other and the order flips every round, so the machine's drift
      // (other processes, thermal) hits each side alike; ratios are then taken per round.
      for (const group of round % 2 === 0 ? GROUPS : [...GROUPS].reverse()) {
        for (const v of round % 2 === 0 ? group : [...group].reverse()) {
          const server = servers.get(v)!;
          const before = await cpuTicks(server.pid);
          const r = await load(server.port, DURATION_S, wrk, loadCpu);
          const ticks = (await cpuTicks(server.pid)) - before;
          results.get(v)!.push(r.rps);
          efficiency.get(v)!.push(ticks > 0 ? (r.requests / ticks) * CLOCK_TICKS_PER_S : Number.NaN);
        }
      }
      console.log(
        `  round ${round + 1}: ${ORDER.map((v) => `${v} ${Math.round(results.get(v)!.at(-1)!)}`).join(', ')}`,
      );
    }
    console.log('\n  server                      median req/s   req per CPU-second   req/s per round');
    for (const v of ORDER) {
      const xs = results.get(v)!;
      console.log(
        `  ${v.padEnd(26)}  ${Math.round(median(xs)).toString().padStart(12)}   ${Math.round(median(efficiency.get(v)!))
          .toString()
          .padStart(18)}   ${xs.map((x) => Math.round(x)).join(' ')}`,
      );
    }
    console.log('\n  ratio to peer (medians of per-round ratios)   req/s    req per CPU-second');
    for (const [v, peer, target] of RATIOS) {
      if (!ORDER.includes(v) || !ORDER.includes(peer)) continue;
      const perRound = (m: Map<Variant, number[]>): number[] => m.get(v)!.map((x, i) => x / m.get(peer)![i]!);
      const rps = median(perRound(results));
      const effs = perRound(efficiency);
      const eff = median(effs);
      const verdict =
        target === undefined ? '' : eff >= target ? `   target ≥ ${target}: met` : `   target ≥ ${target}: MISSED`;
      // The spread says how far one median can be trusted: on a shared machine a single round's
      // ratio swings by more than the 3% the target allows.
      const spread = `   (rounds ${quantile(effs, 0.25).toFixed(2)}–${quantile(effs, 0.75).toFixed(2)} mid half, ${Math.min(...effs).toFixed(2)}–${Math.max(...effs).toFixed(2)} all)`;
      console.log(
        `  ${`${v} / ${peer}`.padEnd(44)} ${rps.toFixed(3).padStart(6)}    ${eff.toFixed(3).padStart(6)}${verdict}${spread}`,
      );
    }
    console.log('  (the target is judged on req per CPU-second: req/s swings with whatever else runs on the machine)');
  } finally {
    for (const server of servers.values()) await server.close();
  }
}
