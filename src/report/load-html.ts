import { createClientCharts } from './charts.js';
import { createChartCollector, escapeHtml, renderHtmlPage } from './html-page.js';
import { fellBehind, formatDurationMs, type LoadReportInput } from './load-text.js';

/** Options of {@link renderLoadHtml}. */
export interface LoadHtmlOptions {
  /** Page heading, e.g. the command or the files read. */
  title?: string;
}

const latencyRow = (l: LoadReportInput['latenciesMs']): string =>
  (['min', 'mean', 'p50', 'p90', 'p95', 'p99', 'max'] as const)
    .map((k) => `${k} ${formatDurationMs(l[k])}`)
    .join(' · ');

const countsOf = (record: Record<string, number>): string =>
  Object.entries(record)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, n]) => `${n.toLocaleString('en-US')} × ${k}`)
    .join(', ') || 'none';

/**
 * A load run (or a summary of result files) as one self-contained page: the numbers of the text
 * report, then the same client charts the lab page draws for a phase — requests/s by status and
 * latency p50/p99 over time. Every text is escaped.
 */
export function renderLoadHtml(m: LoadReportInput, options: LoadHtmlOptions = {}): string {
  const charts = createChartCollector();
  const chartDivs = createClientCharts(m).map(charts.div).join('\n');
  const rows: [string, string][] = [
    [
      'requests',
      `${m.requests.toLocaleString('en-US')} (${m.rate.asked > 0 ? `${m.rate.asked}/s asked` : 'closed loop'}, ${m.requests > 1 ? `${m.rate.achieved.toFixed(2)}/s achieved` : 'rate not measurable with fewer than 2 requests'})`,
    ],
    [
      'duration',
      `${formatDurationMs(m.durationMs)} (attack ${formatDurationMs(m.attackMs)}, wait ${formatDurationMs(m.waitMs)})`,
    ],
    ['latency from due time', latencyRow(m.latenciesMs)],
    ['latency from send', latencyRow(m.serviceLatenciesMs)],
    [
      'send lag',
      `mean ${formatDurationMs(m.sendLagMs.mean)} · 99 ${formatDurationMs(m.sendLagMs.p99)} · max ${formatDurationMs(m.sendLagMs.max)}`,
    ],
    ['success', `${(m.successRatio * 100).toFixed(2)}%`],
    ['status codes', countsOf(m.statusCodes)],
    ['errors', countsOf(m.errors)],
  ];
  if (m.sources && m.files !== undefined) {
    rows.push([
      'sources',
      `${m.files} file${m.files === 1 ? '' : 's'}, hosts ${m.sources.hosts.join(' ') || '-'}, ${m.sources.startedAt !== null ? `start ${m.sources.startedAt} (wall clock)` : 'each from its own start'}`,
    ]);
  }
  const notes = [
    ...(fellBehind(m)
      ? [`the load generator did not send at the asked rate${m.unsent ? ` (${m.unsent} requests not sent)` : ''}`]
      : []),
    ...(m.interrupted ? ['interrupted: the report covers the requests sent before the interrupt'] : []),
  ];
  const title = options.title ?? 'badgateway load report';
  const body = `<h1>${escapeHtml(title)}</h1>
<table>
${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('\n')}
</table>
${notes.map((n) => `<p class="bad">Warning: ${escapeHtml(n)}</p>`).join('\n')}
${chartDivs}`;
  return renderHtmlPage({ title, body, charts: charts.charts });
}
