/**
 * `npm run bench -- lab`: the time of each lab scenario (fail + fix phases) and of the whole lab,
 * against DESIGN.md's targets (≤ 15 s per scenario, ≤ 2 min for all), as ratios. Runs behind nginx
 * when installed, else the built-in proxy; Python upstreams that cannot run here are skipped.
 */
import { runLab } from '../src/lab/index.js';
import { renderSeconds } from '../src/report/index.js';

const SCENARIO_TARGET_MS = 15_000;
const LAB_TARGET_MS = 120_000;

/** Runs the whole lab once and prints each scenario's time and the total against the targets. */
export async function run(): Promise<void> {
  const report = await runLab({ proxy: 'auto' });
  const width = Math.max(...report.scenarios.map((s) => `${s.id}/${s.upstream}`.length));
  for (const s of report.scenarios) {
    const ratio = s.durationMs / SCENARIO_TARGET_MS;
    console.log(
      `${`${s.id}/${s.upstream}`.padEnd(width)}  ${s.proxy.padEnd(7)}  ${renderSeconds(s.durationMs).padStart(6)}  ` +
        `${ratio.toFixed(2)}× of the 15 s target  ${ratio <= 1 ? 'ok' : 'OVER'}  verdict ${s.verdict.ok ? 'holds' : 'FAILED'}`,
    );
  }
  for (const s of report.skipped) console.log(`skipped ${s.id}/${s.upstream}: ${s.reason}`);
  const ratio = report.durationMs / LAB_TARGET_MS;
  console.log(
    `lab (${report.scenarios.length} runs): ${renderSeconds(report.durationMs)}, ${ratio.toFixed(2)}× of the 2 min target ${ratio <= 1 ? 'ok' : 'OVER'}; ` +
      `slowest scenario ${renderSeconds(Math.max(...report.scenarios.map((s) => s.durationMs)))}`,
  );
}
