import { describeLogLine } from '../causes/index.js';
import {
  causeStatuses,
  logFormatOf,
  type ClassifiedLine,
  type LabReport,
  type PhaseResult,
  type ProxyKind,
  type ScenarioResult,
} from '../lab/index.js';
import { createColors, renderTable, tableWidth, type TableColumn } from './table.js';

/** Options of {@link renderLabText}. */
export interface LabTextOptions {
  /** ANSI colour (only for a TTY). Default false. */
  color?: boolean;
  /** Fit the table to this many columns (a terminal's width); default: no limit (full width, as for a pipe). */
  columns?: number;
}

/** The proxy log column is shortened down to this many characters before columns are dropped. */
const MIN_LOG_WIDTH = 24;

/** `87 × 502, 3 × 504` for the given statuses (those with a count), `0 × 502/504` when none. */
export function renderStatusCounts(
  statusCodes: Record<string, number>,
  only: readonly string[] = ['502', '504'],
): string {
  const parts = only.filter((s) => (statusCodes[s] ?? 0) > 0).map((s) => `${statusCodes[s]} × ${s}`);
  return parts.length > 0 ? parts.join(', ') : `0 × ${only.join('/')}`;
}

/** All status codes and error kinds of a phase, most frequent first: `200 × 180, 502 × 20, ECONNRESET × 1`. */
export function renderClientOutcome(phase: PhaseResult): string {
  const entries = [...Object.entries(phase.client.statusCodes), ...Object.entries(phase.client.errors)].filter(
    ([, n]) => n > 0,
  );
  entries.sort((a, b) => b[1] - a[1]);
  return entries.length > 0 ? entries.map(([k, n]) => `${n} × ${k}`).join(', ') : 'no requests';
}

/** Temp dirs in log lines vary per run: `/tmp/bg-lab-Ab12Cd/app.sock` → `…/app.sock`. */
export function shortenTempPaths(text: string): string {
  return text.replace(/\/tmp\/bg-[\w-]+?-[A-Za-z0-9]{6}\//g, '…/');
}

/**
 * The first proxy log line of the phase that is evidence of the scenario's cause, in short: nginx
 * `[level] message`, HAProxy `status termination-state backend/server "request"`, Caddy `status msg`.
 */
export function firstCauseLine(
  phase: PhaseResult | undefined,
  proxy: ProxyKind = 'nginx',
  causeId?: string,
): string | undefined {
  const line = phase ? causeLine(phase.proxyLog.classified, causeId) : undefined;
  return line ? shortenTempPaths(describeLogLine(line.line, logFormatOf(proxy))) : undefined;
}

/** The first line of the cause, preferring one whose most likely cause it is (HAProxy's backlog alert over its SC-- line). */
export function causeLine(lines: readonly ClassifiedLine[], causeId: string | undefined): ClassifiedLine | undefined {
  return lines.find((l) => l.matchesCause && l.causes[0] === causeId) ?? lines.find((l) => l.matchesCause);
}

/** Whether doctor, run during the fail phase, named the scenario's cause first: `yes`, or `no (what it named, in order)`. */
export function renderDoctorVerdict(s: ScenarioResult): string {
  const doctor = s.phases.fail.doctor;
  if (!doctor) return 'not run';
  if (doctor.error) return `error: ${doctor.error}`;
  // The first finding is the root cause doctor names; a cause further down is not naming it.
  if (doctor.causes[0] === s.causeId) return 'yes';
  return doctor.causes.length > 0 ? `no (${doctor.causes.join(', ')})` : 'no (nothing)';
}

/** The fail phase's 502s and 504s, and whatever else this proxy answers for the cause (HAProxy's 503). */
function failCell(s: ScenarioResult): string {
  const phase = s.phases.fail;
  if (phase.error) return `error: ${phase.error}`;
  const statuses = [...new Set([502, 504, ...causeStatuses(s.causeId, s.proxy)])].sort().map(String);
  return renderStatusCounts(phase.client.statusCodes, statuses);
}

function fixCell(s: ScenarioResult): string {
  const phase = s.phases.fix;
  if (!phase) return 'not run';
  if (phase.error) return `error: ${phase.error}`;
  const others = Object.entries(phase.client.statusCodes)
    .filter(([code, n]) => n > 0 && code !== '502' && code !== '504')
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${n} × ${code}`);
  return `${renderStatusCounts(phase.client.statusCodes)}${others.length > 0 ? ` (${others.join(', ')})` : ''}`;
}

/** `ok`, `FAILED`, or `INTERRUPTED` for a scenario Ctrl-C stopped (no verdict, not a failure). */
export function renderScenarioVerdict(s: ScenarioResult): string {
  return s.verdict.ok ? 'ok' : s.interrupted ? 'INTERRUPTED' : 'FAILED';
}

/** `3.2 s` */
export function renderSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * The verdict table of a lab run, plain text with aligned columns: scenario, proxy, upstream, what the
 * client saw in the fail phase and the classified proxy line, the fix phase's result, time, verdict.
 * Skipped scenarios follow, each with its reason.
 */
export function renderLabText(report: LabReport, options: LabTextOptions = {}): string {
  const c = createColors(options.color ?? false);
  const all: TableColumn<ScenarioResult>[] = [
    { header: 'SCENARIO', cell: (s) => s.id },
    { header: 'PROXY', cell: (s) => s.proxy },
    { header: 'UPSTREAM', cell: (s) => s.upstream },
    { header: 'FAIL PHASE', cell: failCell, style: (t, s) => (s.verdict.fail.ok ? t : c.red(t)) },
    { header: 'FIX PHASE', cell: fixCell, style: (t, s) => (s.verdict.fix.ok ? t : c.red(t)) },
    { header: 'TIME', cell: (s) => renderSeconds(s.durationMs), align: 'right' },
    {
      header: 'VERDICT',
      cell: renderScenarioVerdict,
      style: (t, s) => (s.verdict.ok ? c.green(t) : s.interrupted ? c.yellow(t) : c.red(t)),
    },
    { header: 'DOCTOR NAMES IT', cell: renderDoctorVerdict },
    {
      header: 'PROXY LOG (FAIL PHASE)',
      cell: (s) => firstCauseLine(s.phases.fail, s.proxy, s.causeId) ?? '(no line of this cause)',
    },
  ];
  const columns = fitLabColumns(all, report.scenarios, options.columns ?? Number.POSITIVE_INFINITY);
  let out = report.scenarios.length > 0 ? renderTable(columns, report.scenarios) : 'no scenario ran\n';
  const failed = report.scenarios.filter((s) => !s.verdict.ok);
  for (const s of failed.filter((x) => x.interrupted))
    out += `${c.yellow('■')} ${s.id} (${s.proxy}, ${s.upstream}) interrupted before its verdict\n`;
  for (const s of failed.filter((x) => !x.interrupted)) {
    if (!s.verdict.fail.ok)
      out += `${c.red('✗')} ${s.id} (${s.proxy}, ${s.upstream}) fail phase: ${s.verdict.fail.reason}\n`;
    if (!s.verdict.fix.ok)
      out += `${c.red('✗')} ${s.id} (${s.proxy}, ${s.upstream}) fix phase: ${s.verdict.fix.reason}\n`;
  }
  for (const s of report.skipped.filter((x) => x.kind === 'unavailable')) {
    out += c.dim(`skipped ${s.id} (${s.upstream}${s.proxy ? `, ${s.proxy}` : ''}): ${s.reason}`) + '\n';
  }
  const unsupported = report.skipped.filter((x) => x.kind === 'unsupported');
  // A scenario without the chosen upstream, and one whose cause cannot show behind a proxy (with why).
  const noUpstream = unsupported.filter((x) => x.proxy === null);
  if (noUpstream.length > 0)
    out += c.dim(`no ${noUpstream[0]!.upstream} upstream: ${noUpstream.map((s) => s.id).join(', ')}`) + '\n';
  for (const s of unsupported.filter((x) => x.proxy !== null))
    out += c.dim(`not behind ${s.proxy}: ${s.id}: ${s.reason}`) + '\n';
  const held = report.scenarios.length - failed.length;
  const unavailable = report.skipped.length - unsupported.length;
  // Columns left out to fit the terminal are said once here, when every row had the same value.
  const first = report.scenarios[0];
  const dropped = first
    ? [
        ...(columns.some((col) => col.header === 'PROXY') ? [] : [`behind ${first.proxy}`]),
        ...(columns.some((col) => col.header === 'UPSTREAM') ? [] : [`${first.upstream} upstream`]),
      ]
    : [];
  const summary = `${held} of ${report.scenarios.length} verdicts hold${dropped.length > 0 ? ` (${dropped.join(', ')})` : ''}${
    unavailable > 0 ? `, ${unavailable} skipped (cannot run here)` : ''
  }${report.interrupted ? ', interrupted' : ''} (${renderSeconds(report.durationMs)})`;
  out += `${report.ok ? c.green(summary) : c.red(summary)}\n`;
  return out;
}

/**
 * The lab table's columns for a terminal `width` wide, in this order until it fits: the proxy log
 * line is shortened (to {@link MIN_LOG_WIDTH} at least), DOCTOR NAMES IT says only yes/no, PROXY and
 * UPSTREAM go when every row has the same one (the summary line names them), the log column and
 * the doctor column go, the fix phase keeps only its 502/504 count, the time goes. The scenario,
 * the 502/504 counts of both phases and the verdict are never cut.
 */
function fitLabColumns(
  all: TableColumn<ScenarioResult>[],
  rows: readonly ScenarioResult[],
  width: number,
): TableColumn<ScenarioResult>[] {
  let columns = all;
  const fits = (): boolean => tableWidth(columns, rows) <= width;
  const fitLog = (): boolean => {
    const log = columns.find((col) => col.header === LOG_HEADER);
    if (!log) return fits();
    const others =
      tableWidth(
        columns.filter((col) => col !== log),
        rows,
      ) + 2;
    if (width - others < MIN_LOG_WIDTH) return false;
    columns = columns.map((col) => (col === log ? { ...col, maxWidth: width - others } : col));
    return true;
  };
  if (fits() || fitLog()) return columns;
  columns = columns.map((col) =>
    col.header === DOCTOR_HEADER
      ? { ...col, cell: (s: ScenarioResult) => renderDoctorVerdict(s).replace(/ \(.*$/, '') }
      : col,
  );
  if (fitLog()) return columns;
  for (const header of ['PROXY', 'UPSTREAM']) {
    const cell = all.find((col) => col.header === header)!.cell;
    if (new Set(rows.map(cell)).size <= 1) columns = columns.filter((col) => col.header !== header);
  }
  if (fitLog()) return columns;
  for (const header of [LOG_HEADER, DOCTOR_HEADER]) {
    columns = columns.filter((col) => col.header !== header);
    if (fits()) return columns;
  }
  // The fix phase keeps its 502/504 count (what the verdict is about) and drops the other statuses.
  columns = columns.map((col) =>
    col.header === 'FIX PHASE' ? { ...col, cell: (s: ScenarioResult) => col.cell(s).replace(/ \(.*\)$/, '') } : col,
  );
  if (fits()) return columns;
  return columns.filter((col) => col.header !== 'TIME');
}

const LOG_HEADER = 'PROXY LOG (FAIL PHASE)';
const DOCTOR_HEADER = 'DOCTOR NAMES IT';

/** The `schema` of `lab --json`. */
export const LAB_JSON_SCHEMA = 'badgateway.lab/v1';

/** The report as JSON (2-space indent, trailing newline): what `badgateway lab --json` prints. */
export function renderLabJson(report: LabReport): string {
  return `${JSON.stringify({ schema: LAB_JSON_SCHEMA, ...report }, null, 2)}\n`;
}
