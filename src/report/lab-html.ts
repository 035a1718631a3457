import { getCause } from '../causes/index.js';
import { fillConfirm } from '../doctor/index.js';
import type { LabReport, PhaseResult, ScenarioResult } from '../lab/index.js';
import { createPhaseCharts } from './charts.js';
import {
  createChartCollector,
  escapeHtml,
  renderCollapsedLines,
  renderHtmlPage,
  type ChartCollector,
} from './html-page.js';
import { renderClientOutcome, renderScenarioVerdict, renderSeconds, renderStatusCounts } from './lab-text.js';

function renderPhase(
  phase: PhaseResult | undefined,
  name: string,
  charts: ChartCollector,
  verdictOk: boolean,
  reason: string,
): string {
  if (!phase) return `<div class="phase"><h3>${escapeHtml(name)} phase</h3><p class="muted">not run</p></div>`;
  const chartDivs = createPhaseCharts(phase).map(charts.div).join('\n');
  const lat = phase.client.latenciesMs;
  const patterns = Object.entries(phase.proxyLog.byPattern)
    .sort((a, b) => b[1] - a[1])
    .map(([id, n]) => `<li><code>${escapeHtml(id)}</code> × ${escapeHtml(n)}</li>`)
    .join('');
  const lines = renderCollapsedLines(phase.proxyLog.classified.map((l) => l.line));
  return `<div class="phase">
<h3>${escapeHtml(name)} phase: <span class="${verdictOk ? 'ok' : 'bad'}">${verdictOk ? 'as expected' : 'NOT as expected'}</span></h3>
<p>${escapeHtml(phase.description)}</p>
<p class="muted">${escapeHtml(reason)}</p>
<table>
<tr><th>client saw</th><td>${escapeHtml(renderClientOutcome(phase))}</td></tr>
<tr><th>502/504</th><td>${escapeHtml(renderStatusCounts(phase.client.statusCodes))}</td></tr>
<tr><th>requests</th><td>${escapeHtml(phase.client.requests)} at ${escapeHtml(phase.client.rate.asked)}/s asked, ${escapeHtml(
    phase.client.rate.achieved.toFixed(1),
  )}/s achieved</td></tr>
<tr><th>latency ms</th><td>p50 ${escapeHtml(lat.p50.toFixed(1))} · p99 ${escapeHtml(lat.p99.toFixed(1))} · max ${escapeHtml(lat.max.toFixed(1))}</td></tr>
<tr><th>phase time</th><td>${escapeHtml(renderSeconds(phase.durationMs))}</td></tr>
<tr><th>doctor named</th><td>${escapeHtml(
    phase.doctor
      ? phase.doctor.error
        ? `could not inspect: ${phase.doctor.error}`
        : phase.doctor.causes.join(', ') || 'nothing (healthy)'
      : 'not run',
  )}</td></tr>
</table>
${phase.error ? `<p class="bad">error: ${escapeHtml(phase.error)}</p>` : ''}
${phase.notes.length > 0 ? `<ul>${phase.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
${chartDivs}
<h4>Proxy log: ${escapeHtml(phase.proxyLog.lines)} lines, ${escapeHtml(phase.proxyLog.causeLines)} of this cause</h4>
${patterns ? `<ul>${patterns}</ul>` : '<p class="muted">no upstream errors logged</p>'}
${lines ? `<pre>${lines}</pre>` : ''}
</div>`;
}

function renderScenario(s: ScenarioResult, charts: ChartCollector): string {
  const cause = getCause(s.causeId);
  const anchor = `${s.id}-${s.proxy}-${s.upstream}`;
  const causeHtml = cause
    ? `<h3>The cause: ${escapeHtml(cause.title)}</h3>
<p>${escapeHtml(cause.summary)}</p>
<p><b>Evidence to look for</b></p><ul>${cause.evidence.map((e) => `<li>${escapeHtml(e)}</li>`).join('')}</ul>
<p><b>Confirm by hand</b></p><ul>${cause.confirm.map((e) => `<li><code>${escapeHtml(fillConfirm(e, confirmValues(s)))}</code></li>`).join('')}</ul>
<p><b>Fix</b></p><ol>${cause.fix.map((e) => `<li>${escapeHtml(e)}</li>`).join('')}</ol>`
    : '';
  return `<section class="scenario" id="${escapeHtml(anchor)}">
<h2>${escapeHtml(s.id)} <span class="muted">behind ${escapeHtml(s.proxy)}, upstream ${escapeHtml(s.upstream)}</span>:
<span class="${s.verdict.ok ? 'ok' : 'bad'}">${s.verdict.ok ? 'verdict holds' : `verdict ${renderScenarioVerdict(s)}`}</span></h2>
<p><b>${escapeHtml(s.title)}</b></p>
<p><b>How the lab provokes it:</b> ${escapeHtml(s.how)}</p>
<p><b>Fix applied in the fix phase:</b> ${escapeHtml(s.fix)}</p>
<div class="phases">
${renderPhase(s.phases.fail, 'fail', charts, s.verdict.fail.ok, s.verdict.fail.reason)}
${renderPhase(s.phases.fix, 'fix', charts, s.verdict.fix.ok, s.verdict.fix.reason)}
</div>
${causeHtml}
</section>`;
}

/** The scenario's own pid, port or socket for the catalogue's commands (`ss -xlp | grep SOCKET`). */
function confirmValues(s: ScenarioResult): { pid?: number; port?: number; socket?: string } {
  const upstream = s.phases.fail.upstream;
  if (!upstream) return {};
  return {
    ...(upstream.pid !== null ? { pid: upstream.pid } : {}),
    ...(upstream.port !== undefined ? { port: upstream.port } : {}),
    ...(upstream.unixSocket !== undefined ? { socket: upstream.unixSocket } : {}),
  };
}

/**
 * The lab report as one self-contained HTML page (uPlot and its CSS inlined, no network): a summary
 * table, then per scenario the charts of each phase, the proxy's classified error lines, and the cause
 * and its fix from the catalogue. Every text is escaped.
 */
export function renderLabHtml(report: LabReport): string {
  const charts = createChartCollector();
  const sections = report.scenarios.map((s) => renderScenario(s, charts)).join('\n');
  const rows = report.scenarios
    .map(
      (s) =>
        `<tr><td><a href="#${escapeHtml(`${s.id}-${s.proxy}-${s.upstream}`)}">${escapeHtml(s.id)}</a></td><td>${escapeHtml(s.proxy)}</td><td>${escapeHtml(
          s.upstream,
        )}</td><td>${escapeHtml(renderStatusCounts(s.phases.fail.client.statusCodes))}</td><td>${escapeHtml(
          s.phases.fix ? renderStatusCounts(s.phases.fix.client.statusCodes) : 'not run',
        )}</td><td>${escapeHtml(renderSeconds(s.durationMs))}</td><td class="${s.verdict.ok ? 'ok' : 'bad'}">${renderScenarioVerdict(s)}</td></tr>`,
    )
    .join('\n');
  const skipped = report.skipped
    .map(
      (s) =>
        `<li>${escapeHtml(s.id)} (${escapeHtml(s.upstream)}${s.proxy ? `, ${escapeHtml(s.proxy)}` : ''}): ${escapeHtml(s.reason)}</li>`,
    )
    .join('');
  const headline = report.ok ? 'every verdict holds' : report.interrupted ? 'INTERRUPTED' : 'some verdicts FAILED';
  const body = `<h1>badgateway lab: <span class="${report.ok ? 'ok' : 'bad'}">${headline}</span></h1>
<p class="muted">started ${escapeHtml(report.startedAt)}, ${escapeHtml(renderSeconds(report.durationMs))}${report.interrupted ? ', interrupted' : ''}</p>
<table>
<tr><th>scenario</th><th>proxy</th><th>upstream</th><th>fail phase</th><th>fix phase</th><th>time</th><th>verdict</th></tr>
${rows}
</table>
${skipped ? `<p>Skipped:</p><ul>${skipped}</ul>` : ''}
${sections}`;
  return renderHtmlPage({ title: 'badgateway lab report', body, charts: charts.charts });
}
