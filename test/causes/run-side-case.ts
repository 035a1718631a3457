/**
 * Runs one {@link SideCase} against real nginx and returns what the client got and every error-log
 * line. Cases that need a private network namespace run in a child under `unshare -n` (this file
 * is also that child's entry point: `node run-side-case.js --netns-child CASE_ID`).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { which } from '../../src/util/index.js';
import { runCommand, startCustomNginx } from '../../src/testing/index.js';
import { SIDE_CASES, type Outcome, type SideCase } from './proxy-side-cases.js';

export interface SideCaseResult {
  outcomes: Outcome[];
  /** Every line of nginx's error log (startup notices included). */
  lines: string[];
}

/** Runs `c` here (the caller is already in the right namespace). */
export async function runSideCase(c: SideCase): Promise<SideCaseResult> {
  const upstream = await c.setup();
  try {
    const nginx = await startCustomNginx(c.config(upstream));
    try {
      const outcomes = await c.drive({ url: nginx.url, nginx, upstream });
      return { outcomes, lines: (await nginx.readErrorLog()).split('\n').filter(Boolean) };
    } finally {
      await nginx.close();
    }
  } finally {
    await upstream.close();
  }
}

const SELF = fileURLToPath(import.meta.url);

/** Why cases with `netns` cannot run here (not root, no unshare), or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  const unshare = which('unshare');
  if (!unshare) return 'unshare (util-linux) is not installed';
  if (!which('ip')) return 'ip (iproute2) is not installed';
  const probe = spawnSync(unshare, ['-n', 'true'], { encoding: 'utf8', timeout: 5000 });
  if (probe.status !== 0)
    return `cannot create a network namespace: ${(probe.stderr || String(probe.error ?? probe.status)).trim()}`;
  return undefined;
}

/** Runs `c` in a fresh network namespace: only its own loopback, its own sysctls, gone on exit. */
export async function runSideCaseInNetns(c: SideCase, timeoutMs = 10_000): Promise<SideCaseResult> {
  const r = await runCommand(which('unshare')!, ['-n', process.execPath, SELF, '--netns-child', c.id], { timeoutMs });
  if (r.code !== 0) throw new Error(`netns child for ${c.id} failed (${r.code ?? r.signal}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as SideCaseResult;
}

async function netnsChild(id: string): Promise<void> {
  const c = SIDE_CASES.find((x) => x.id === id);
  if (!c) throw new Error(`no side case ${id}`);
  // A new namespace's loopback is down; the port range is this namespace's own.
  const up = spawnSync(which('ip')!, ['link', 'set', 'lo', 'up'], { encoding: 'utf8' });
  if (up.status !== 0) throw new Error(`ip link set lo up: ${up.stderr}`);
  writeFileSync('/proc/sys/net/ipv4/ip_local_port_range', '40000 40001');
  process.stdout.write(JSON.stringify(await runSideCase(c)));
}

if (process.argv[1] === SELF && process.argv[2] === '--netns-child') {
  netnsChild(process.argv[3] ?? '').catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
