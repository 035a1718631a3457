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
import { which } from '../src/util/index.js';
import type { Variant } from './guard-server.js';

const SERVER = fileURLToPath(new URL('./guard-server.js', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 2);
const CONNECTIONS = 50;
const ORDER: Variant[] = ['bare', 'guarded', 'seed-scan', 'fastify', 'fastify-under-pressure', 'fastify-guarded'];
/** Variants measured back to back (a variant right next to its peer), order flipped every round. */
const GROUPS: Variant[][] = [['bare', 'guarded', 'seed-scan'], ['fastify', 'fastify-under-pressure', 'fastify-guarded']];
/** [variant, its peer, target ratio or undefined] */
const RATIOS: Array<[Variant, Variant, number | undefined]> = [
  ['guarded', 'bare', 0.97],
  ['seed-scan', 'bare', undefined],
  ['fastify-under-pressure', 'fastify', undefined],
  ['fastify-guarded', 'fastify', 0.97],
];

const run$ = promisify(execFile);

interface Server {
  port: number;
  close(): Promise<void>;
}

async function startServer(variant: Variant, cpu: string | undefined): Promise<Server> {
  const args = [SERVER, variant];
  const child = cpu ? spawn('taskset', ['-c', cpu, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
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
    port,
    async close() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function load(port: number, durationS: number, wrk: string | undefined, cpu: string | undefined): Promise<number> {
  const url = `http://127.0.0.1:${port}/`;
  if (wrk) {
    const args = ['-t1', `-c${CONNECTIONS}`, `-d${durationS}s`, url];
    const { stdout } = cpu ? await run$('taskset', ['-c', cpu, wrk, ...args]) : await run$(wrk, args);
    const m = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
    if (!m) throw new Error(`unexpected wrk output: ${stdout}`);
    // A 503 would mean the guard shed: then the figures compare nothing. Socket timeouts happen
    // on a busy machine and are reported, not fatal.
    const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
    if (non2xx) throw new Error(`load saw ${non2xx[1]} non-2xx responses on port ${port}`);
    const socketErrors = /Socket errors: (.*)/.exec(stdout);
    if (socketErrors) console.log(`    (wrk on port ${port}: socket errors ${socketErrors[1]})`);
    return Number(m[1]);
  }
  const { default: autocannon } = await import('autocannon');
  const result = await autocannon({ url, connections: CONNECTIONS, duration: durationS });
  if (result.non2xx > 0) throw new Error(`load saw ${result.non2xx} non-2xx responses on port ${port}`);
  return result.requests.average;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Runs the guard benchmark and prints req/s per variant and the ratios to their peers. */
export async function run(): Promise<void> {
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
    for (let round = 0; round < ROUNDS; round++) {
      // Peers run next to each other and the order flips every round, so the machine's drift
      // (other processes, thermal) hits each side alike; ratios are then taken per round.
      for (const group of round % 2 === 0 ? GROUPS : [...GROUPS].reverse()) {
        for (const v of round % 2 === 0 ? group : [...group].reverse()) {
          results.get(v)!.push(await load(servers.get(v)!.port, DURATION_S, wrk, loadCpu));
        }
      }
      console.log(`  round ${round + 1}: ${ORDER.map((v) => `${v} ${Math.round(results.get(v)!.at(-1)!)}`).join(', ')}`);
    }
    console.log('\n  server                      median req/s   per round');
    for (const v of ORDER) {
      const xs = results.get(v)!;
      console.log(`  ${v.padEnd(26)}  ${Math.round(median(xs)).toString().padStart(12)}   ${xs.map((x) => Math.round(x)).join(' ')}`);
    }
    console.log('\n  ratio to peer                          median of per-round ratios (ratio of medians)');
    for (const [v, peer, target] of RATIOS) {
      const mine = results.get(v)!;
      const theirs = results.get(peer)!;
      const paired = median(mine.map((x, i) => x / theirs[i]!));
      const ofMedians = median(mine) / median(theirs);
      const verdict = target === undefined ? '' : paired >= target ? `  target ≥ ${target}: met` : `  target ≥ ${target}: MISSED`;
      console.log(`  ${`${v} / ${peer}`.padEnd(38)} ${paired.toFixed(3)} (${ofMedians.toFixed(3)})${verdict}`);
    }
  } finally {
    for (const server of servers.values()) await server.close();
  }
}
