import type { LatencySummaryMs, LoadMetrics, LoadProgress, LoadRunMetrics, ResultsSummary } from '../load/index.js';

/** `LoadMetrics` plus the live run's extras (`runLoad`), or a summary's sources (`summarizeResultFiles`), when known. */
export type LoadReportInput = LoadMetrics &
  Partial<Pick<LoadRunMetrics, 'unsent' | 'interrupted' | 'peakInflight' | 'connectionCap'>> &
  Partial<Pick<ResultsSummary, 'files' | 'sources'>>;

/** Go-style duration text as vegeta prints it: `1.234s`, `12.5ms`, `90µs`. */
export function formatDurationMs(ms: number): string {
  if (ms >= 1000) return `${trim(ms / 1000)}s`;
  if (ms >= 1) return `${trim(ms)}ms`;
  return `${trim(ms * 1000)}µs`;
}

const trim = (n: number): string => String(Math.round(n * 1000) / 1000);
const fixed2 = (n: number): string => n.toFixed(2);

function latencies(l: LatencySummaryMs): string {
  return [l.min, l.mean, l.p50, l.p90, l.p95, l.p99, l.max].map(formatDurationMs).join(', ');
}

function counts(record: Record<string, number>, sep: string): string {
  return Object.entries(record)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}${sep}${v}`)
    .join(sep === ':' ? '  ' : '\n');
}

/** True when an open-loop run did not send at the asked rate (more than 1% short, or requests left unsent). */
export function fellBehind(m: LoadReportInput): boolean {
  if (m.rate.asked <= 0) return false;
  if ((m.unsent ?? 0) > 0) return true;
  // One request (0.5/s for 1 s: only the first was due) has no rate to fall short of.
  return m.requests > 1 && m.rate.achieved < m.rate.asked * 0.99;
}

/** The achieved rate, or `-` when fewer than two requests leave no interval to measure it over. */
const achieved = (m: LoadReportInput): string => (m.requests > 1 ? fixed2(m.rate.achieved) : '-');

/**
 * vegeta's text report, plus the asked/achieved rate, the uncorrected latencies (from the actual
 * send) and the send lag. Latencies are corrected (from the due time) as in wrk2.
 */
export function renderLoadText(m: LoadReportInput): string {
  const row = (label: string, fields: string, value: string): string =>
    `${label.padEnd(14)}${`[${fields}]`.padEnd(34)}${value}\n`;
  let out = '';
  out += row('Requests', 'total, rate, throughput', `${m.requests}, ${achieved(m)}, ${fixed2(m.throughput)}`);
  out += row('Rate', 'asked, achieved', `${m.rate.asked > 0 ? fixed2(m.rate.asked) : 'max'}, ${achieved(m)}`);
  out += row('Duration', 'total, attack, wait', [m.durationMs, m.attackMs, m.waitMs].map(formatDurationMs).join(', '));
  out += row('Latencies', 'min, mean, 50, 90, 95, 99, max', latencies(m.latenciesMs));
  out += row('Uncorrected', 'min, mean, 50, 90, 95, 99, max', latencies(m.serviceLatenciesMs));
  out += row(
    'Send lag',
    'mean, 99, max',
    [m.sendLagMs.mean, m.sendLagMs.p99, m.sendLagMs.max].map(formatDurationMs).join(', '),
  );
  out += row('Bytes In', 'total, mean', `${m.bytesIn}, ${fixed2(m.requests > 0 ? m.bytesIn / m.requests : 0)}`);
  out += row('Bytes Out', 'total, mean', `${m.bytesOut}, ${fixed2(m.requests > 0 ? m.bytesOut / m.requests : 0)}`);
  out += row('Success', 'ratio', `${(m.successRatio * 100).toFixed(2)}%`);
  out += row('Status Codes', 'code:count', counts(m.statusCodes, ':'));
  out += 'Error Set:\n';
  const errors = counts(m.errors, ': ');
  if (errors !== '') out += `${errors}\n`;
  if (m.sources && m.files !== undefined) {
    const where =
      m.sources.startedAt !== null ? `start ${m.sources.startedAt} (wall clock)` : 'each from its own start';
    out += row('Sources', 'files, hosts, timeline', `${m.files}, ${m.sources.hosts.join(' ') || '-'}, ${where}`);
  }
  if (fellBehind(m)) {
    // Say which limit it was: every connection busy (the server is slow; more connections would
    // help) or the generator itself (CPU).
    const capped = m.connectionCap !== undefined && m.peakInflight !== undefined && m.peakInflight > m.connectionCap;
    out += `Warning: ${capped ? `all ${m.connectionCap} connections were busy, requests queued for one` : 'the load generator fell behind'}: ${fixed2(
      m.rate.achieved,
    )} req/s achieved of ${fixed2(m.rate.asked)} asked${m.unsent ? `, ${m.unsent} requests not sent` : ''} (send lag up to ${formatDurationMs(m.sendLagMs.max)})${
      capped ? '; raise --connections' : ''
    }.\n`;
  }
  if (m.interrupted) out += 'Interrupted: the report covers the requests sent before the interrupt.\n';
  return out;
}

/** The `schema` of `load --json` and `report --json`. */
export const LOAD_JSON_SCHEMA = 'badgateway.load/v1';

/** The metrics as pretty JSON (with a trailing newline). */
export function renderLoadJson(m: LoadReportInput): string {
  return `${JSON.stringify({ schema: LOAD_JSON_SCHEMA, ...m }, null, 2)}\n`;
}

/**
 * One progress line (no newline) for a terminal `columns` wide: elapsed/duration, a bar, sent,
 * rate, in flight, ok and errors. When it does not fit, parts go in this order — the bar shrinks,
 * then the asked rate, the bar, the in-flight count and the rate go, then labels shorten — and the
 * counts (sent, ok, errors) are never cut.
 */
export function renderProgressLine(p: LoadProgress, columns = Number.POSITIVE_INFINITY): string {
  const fraction = Math.min(1, p.elapsedMs / p.durationMs);
  const bar = (width: number): string => {
    const filled = Math.round(fraction * width);
    return `${'█'.repeat(filled)}${'░'.repeat(width - filled)} `;
  };
  const time = `${(p.elapsedMs / 1000).toFixed(1)}/${(p.durationMs / 1000).toFixed(1)}s`;
  const rate = `${(p.elapsedMs > 0 ? (p.sent * 1000) / p.elapsedMs : 0).toFixed(0)} req/s`;
  const asked = p.rateAsked > 0 ? ` (asked ${p.rateAsked})` : '';
  const counts = `ok ${p.success}  errors ${p.errors}`;
  const variants = [
    `${bar(24)}${time}  sent ${p.sent}  ${rate}${asked}  in flight ${p.inflight}  ${counts}`,
    `${bar(12)}${time}  sent ${p.sent}  ${rate}${asked}  in flight ${p.inflight}  ${counts}`,
    `${bar(12)}${time}  sent ${p.sent}  ${rate}  in flight ${p.inflight}  ${counts}`,
    `${time}  sent ${p.sent}  ${rate}  in flight ${p.inflight}  ${counts}`,
    `${time}  sent ${p.sent}  ${rate}  ${counts}`,
    `${time}  sent ${p.sent}  ${counts}`,
    `${time} sent ${p.sent} ok ${p.success} err ${p.errors}`,
  ];
  return variants.find((line) => line.length <= columns) ?? variants[variants.length - 1]!;
}
