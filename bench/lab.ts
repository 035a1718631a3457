/**
 * `npm run bench -- lab`: the time of each lab scenario (fail + fix phases) and of the whole lab,
 * against the targets of docs/architecture.md (≤ 15 s per scenario, ≤ 2 min for all per proxy), as ratios. Runs
 * behind every proxy installed here (`BENCH_LAB_PROXY=nginx|haproxy|caddy|builtin|auto` picks one);
 * Python upstreams that cannot run here are skipped.
 */
import { runLab, type ProxyKind } from '../src/lab/index.js';
import { renderSeconds } from '../src/report/index.js';

const SCENARIO_TARGET_MS = 15_000;
const LAB_TARGET_MS = 120_000;

/** Runs the whole lab once and prints each scenario's time and the total against the targets. */
export async function run(): Promise<void> {
  const report = await runLab({
    proxy: (process.env['BENCH_LAB_PROXY'] as ProxyKind | 'auto' | 'all' | undefined) ?? 'all',
  });
  const width = Math.max(...report.scenarios.map((s) => `${s.id}/${s.upstream}`.length));
  for (const s of report.scenarios) {
    const ratio = s.durationMs / SCENARIO_TARGET_MS;
    console.log(
      `${`${s.id}/${s.upstream}`.padEnd(width)}  ${s.proxy.padEnd(7)}  ${renderSeconds(s.durationMs).padStart(6)}  ` +
        `${ratio.toFixed(2)}× of the 15 s target  ${ratio <= 1 ? 'ok' : 'OVER'}  verdict ${s.verdict.ok ? 'holds' : 'FAILED'}`,
    );
  }
  for (const s of report.skipped)
    console.log(`skipped ${s.id}/${s.upstream}${s.proxy ? ` (${s.proxy})` : ''}: ${s.reason}`);
  for (const proxy of [...new Set(report.scenarios.map((s) => s.proxy))]) {
    const runs = report.scenarios.filter((s) => s.proxy === proxy);
    const total = runs.reduce((ms, s) => ms + s.durationMs, 0);
    const ratio = total / LAB_TARGET_MS;
    console.log(
      `lab behind ${proxy} (${runs.length} runs): ${renderSeconds(total)}, ${ratio.toFixed(2)}× of the 2 min target ${ratio <= 1 ? 'ok' : 'OVER'}; ` +
        `slowest scenario ${renderSeconds(Math.max(...runs.map((s) => s.durationMs)))}`,
    );
  }
}
