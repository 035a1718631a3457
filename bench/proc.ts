/**
 * Benchmark of `readFdStats` on a process holding 20,000 fds (docs/architecture.md: "a process with 20,000 FDs
 * inspected in < 1 s"), against peers measured in the same run: `ls /proc/PID/fd | wc -l` (count
 * only, no readlink), `ls -l /proc/PID/fd` (readlinks too, like us) and a naive
 * `Promise.all(readlink)` over the thread pool.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdir, readlink } from 'node:fs/promises';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { countFds, readFdStats } from '../src/proc/index.js';

const TARGET_FDS = 20_000;
const ROUNDS = 5;

// Opens /dev/null until the process holds TARGET_FDS fds or hits its limit (node raises its soft
// limit to the hard one at startup; the hard limit here is 20,000).
const HOLDER = `
const fs = require('fs');
let open = fs.readdirSync('/proc/self/fd').length - 1; // minus readdir's own fd
for (; open < ${TARGET_FDS}; open++) { try { fs.openSync('/dev/null', 'r'); } catch { break; } }
console.log(open);
setInterval(() => {}, 1000);
`;

async function time(fn: () => unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function naiveReadFdKinds(pid: number): Promise<number> {
  const dir = `/proc/${pid}/fd`;
  const names = await readdir(dir);
  const targets = await Promise.all(names.map((n) => readlink(`${dir}/${n}`).catch(() => undefined)));
  return targets.filter((t) => t !== undefined).length;
}

/** Runs the benchmark and prints ms per peer and the ratios. */
export async function run(): Promise<void> {
  const child = spawn(process.execPath, ['-e', HOLDER], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    const pid = child.pid as number;
    const stats = await readFdStats(pid);
    console.log(
      `proc: child ${pid} holds ${stats.open} fds (asked ${TARGET_FDS}, child says ${line.trim()}; soft limit ${stats.soft})`,
    );
    const peers: Record<string, () => unknown> = {
      readFdStats: () => readFdStats(pid),
      countFds: () => countFds(pid),
      'ls | wc -l': () => execFileSync('sh', ['-c', `ls /proc/${pid}/fd | wc -l`]),
      'ls -l | wc -l': () => execFileSync('sh', ['-c', `ls -l /proc/${pid}/fd | wc -l`]),
      'naive Promise.all(readlink)': () => naiveReadFdKinds(pid),
    };
    const results: Record<string, number> = {};
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(peers).map((n) => [n, []]));
    // Interleave rounds so machine load hits every peer alike.
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [name, fn] of Object.entries(peers)) samples[name]?.push(await time(fn));
    }
    for (const [name, values] of Object.entries(samples)) results[name] = median(values);
    const ours = results['readFdStats'] ?? Number.NaN;
    for (const [name, ms] of Object.entries(results)) {
      console.log(
        `proc: ${name.padEnd(28)} ${ms.toFixed(1).padStart(8)} ms (median of ${ROUNDS})   readFdStats/this = ${(ours / ms).toFixed(2)}`,
      );
    }
    console.log(
      `proc: readFdStats on ${stats.open} fds: ${ours.toFixed(0)} ms — target < 1000 ms: ${ours < 1000 ? 'met' : 'MISSED'}`,
    );
  } finally {
    child.kill('SIGKILL');
  }
}
