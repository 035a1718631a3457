import { describeLogLine, type CauseId, type ProxyLogFormat } from '../causes/index.js';
import { causeStatuses, logFormatOf, type LabReport, type ProxyKind } from '../lab/index.js';
import { causeLine, shortenTempPaths } from './lab-text.js';

/** One cell of the cause × proxy matrix: what one fail phase showed behind one proxy. */
export interface MatrixRun {
  id: string;
  causeId: CauseId;
  upstream: string;
  proxy: ProxyKind;
  /** The verdict held (fail phase reproduced it, fix phase showed none of it). */
  ok: boolean;
  /** Fail phase: the client's status codes. */
  statusCodes: Record<string, number>;
  /** Fail phase: the first proxy log line of the cause, as written. */
  line: string | null;
}

/** The runs of a lab report, reduced to what the matrix shows (what the README's fixture keeps). */
export function matrixRunsOf(report: LabReport): MatrixRun[] {
  return report.scenarios.map((s) => ({
    id: s.id,
    causeId: s.causeId,
    upstream: s.upstream,
    proxy: s.proxy,
    ok: s.verdict.ok,
    statusCodes: s.phases.fail.client.statusCodes,
    line: causeLine(s.phases.fail.proxyLog.classified, s.causeId)?.line ?? null,
  }));
}

/**
 * The part of a log line that gives the cause away, as each proxy writes it: nginx's message,
 * HAProxy's termination state, Caddy's Go error (`msg`).
 */
export function logFlag(line: string, format: ProxyLogFormat): string {
  if (format === 'haproxy') {
    const m = /\] \S+ \S+ \S+ \d{3} \S+ \S+ \S+ (\S{4}) /.exec(line);
    return m ? m[1]! : line;
  }
  const described = describeLogLine(line, format);
  return format === 'nginx' ? described.replace(/^\[\w+\] /, '') : described.replace(/^\d{3} /, '');
}

const code = (text: string): string => `\`${text.replace(/`/g, "'").replace(/\|/g, '\\|')}\``;

function cell(run: MatrixRun | undefined): string {
  if (!run) return '—';
  const statuses = causeStatuses(run.causeId, run.proxy);
  const seen = statuses.filter((s) => (run.statusCodes[String(s)] ?? 0) > 0).join('/') || 'none';
  // What varies from run to run goes: temp dirs (and the lab's run index in them), ports.
  const stable = (text: string): string =>
    shortenTempPaths(text)
      .replace(/…\/\d+\//g, '…/')
      .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT');
  const flag = run.line === null ? '(no line)' : code(stable(logFlag(run.line, logFormatOf(run.proxy))));
  return `${run.ok ? '' : '✗ '}${seen} ${flag}`;
}

/**
 * The cause × proxy matrix of a lab run as Markdown: per scenario and upstream, per proxy, the
 * status the client got in the fail phase and the log line or flag that gave the cause away.
 * The README's matrix is this, rendered from a recorded run (`badgateway lab --proxy all --markdown`).
 */
export function renderLabMatrix(runs: readonly MatrixRun[]): string {
  const proxies = [...new Set(runs.map((r) => r.proxy))];
  const rows = [...new Set(runs.map((r) => `${r.id}\0${r.upstream}`))];
  const out = [`| cause (upstream) | ${proxies.join(' | ')} |`, `|---|${proxies.map(() => '---').join('|')}|`];
  for (const row of rows) {
    const [id, upstream] = row.split('\0') as [string, string];
    const cells = proxies.map((p) => cell(runs.find((r) => r.id === id && r.upstream === upstream && r.proxy === p)));
    out.push(`| \`${id}\` (${upstream}) | ${cells.join(' | ')} |`);
  }
  return `${out.join('\n')}\n`;
}
