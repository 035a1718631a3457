import { summarizeAccessLogs, type AccessLogSummary } from './access-log.js';
import { collectFacts, type DoctorFacts, type NetstatSample, type UnixSample } from './collectors.js';
import { summarizeErrorLogs, type ErrorLogSummary } from './error-log.js';
import { rankFindings, type Finding } from './findings.js';
import { resolveDoctorOptions, type DoctorOptions } from './options.js';
import { accessLogHas5xx, evaluateErrorLog, evaluateLiveRules } from './rules.js';
import type { Readable } from 'node:stream';
import { debug } from '../util/index.js';

/** Version of the JSON report; bumped only on incompatible changes. */
export const DOCTOR_SCHEMA = 'badgateway.doctor/v1';

/** What `badgateway doctor` found. Plain JSON: `--json` prints exactly this. */
export interface DoctorReport {
  schema: typeof DOCTOR_SCHEMA;
  /** `healthy`: nothing found (exit 0); `findings`: at least one finding or unexplained 5xx (exit 1). */
  verdict: 'healthy' | 'findings';
  exitCode: 0 | 1;
  generatedAt: string;
  /**
   * The first finding in one sentence: the cause an engineer should act on first (a cause ranks
   * above the findings it brings about). Null when healthy.
   */
  rootCause: RootCause | null;
  /** Ranked: critical first, live before logs, every effect right after its cause. */
  findings: Finding[];
  /** Live facts (null when only logs were read). */
  facts: DoctorFacts | null;
  errorLog: ErrorLogSummary | null;
  accessLog: AccessLogSummary | null;
  /** Things worth knowing that are no finding (unclassified upstream errors, 5xx without a cause). */
  notes: string[];
}

/** The report's first line, as data. */
export interface RootCause {
  cause: Finding['cause'];
  title: string;
  severity: Finding['severity'];
  source: Finding['source'];
  /** Where: the first finding's target. */
  target: string;
  /** One sentence with the numbers (the finding's summary). */
  sentence: string;
  /** Other causes the facts could not rule out. */
  alternatives: Finding['cause'][];
  /** Findings it brings about. */
  effects: Finding['cause'][];
}

/** The first finding as the root cause; null without findings. */
export function rootCauseOf(findings: readonly Finding[]): RootCause | null {
  const f = findings[0];
  if (!f) return null;
  return { cause: f.cause, title: f.title, severity: f.severity, source: f.source, target: f.target, sentence: f.summary, alternatives: f.alsoConsistentWith, effects: f.causes };
}

/** Re-samples live facts (for --watch / --prometheus); logs are read once, on the first sample. */
export interface DoctorSampler {
  sample(): Promise<DoctorReport>;
}

/** Creates a sampler; each `sample()` is one full diagnosis, with counter deltas since the last one. */
export function createDoctorSampler(user: Partial<DoctorOptions> = {}, io: { stdin?: Readable } = {}): DoctorSampler {
  const options = resolveDoctorOptions(user);
  let previous: NetstatSample | undefined;
  let previousUnix: UnixSample | undefined;
  let logs: { errorLog: ErrorLogSummary | null; accessLog: AccessLogSummary | null } | undefined;
  const wantsLive = options.pids.length + options.ports.length + options.unixSockets.length > 0 || (options.scanAll && options.errorLogs.length + options.accessLogs.length === 0);
  return {
    async sample() {
      if (!logs) {
        const read = { maxLineChars: options.maxLineChars, bucketS: options.bucketS, ...(options.signal ? { signal: options.signal } : {}), ...(io.stdin ? { stdin: io.stdin } : {}) };
        const start = performance.now();
        logs = {
          errorLog: options.errorLogs.length > 0 ? await summarizeErrorLogs(options.errorLogs, read) : null,
          accessLog: options.accessLogs.length > 0 ? await summarizeAccessLogs(options.accessLogs, read) : null,
        };
        if (logs.errorLog || logs.accessLog) {
          debug('doctor: read logs in %d ms (%d error-log lines, %d access-log lines)', Math.round(performance.now() - start), logs.errorLog?.lines.total ?? 0, logs.accessLog?.lines.total ?? 0);
        }
      }
      let facts: DoctorFacts | null = null;
      if (wantsLive) {
        const start = performance.now();
        const collected = await collectFacts(options, previous, previousUnix);
        facts = collected.facts;
        previous = collected.netstat;
        previousUnix = collected.unix;
        debug('doctor: collected %d target(s) in %d ms', facts.targets.length, Math.round(performance.now() - start));
      }
      return buildReport(options, facts, logs.errorLog, logs.accessLog);
    },
  };
}

/** One diagnosis: collect → rules → verdict. Throws BG_NO_SUCH_PID / BG_PERMISSION / BG_UNREADABLE when it cannot inspect. */
export async function runDoctor(user: Partial<DoctorOptions> = {}, io: { stdin?: Readable } = {}): Promise<DoctorReport> {
  return createDoctorSampler(user, io).sample();
}

/** Applies the rules to collected facts and log summaries (pure; exported for tests). */
export function buildReport(
  options: DoctorOptions,
  facts: DoctorFacts | null,
  errorLog: ErrorLogSummary | null,
  accessLog: AccessLogSummary | null,
): DoctorReport {
  const live = facts ? evaluateLiveRules(facts, options) : [];
  const fromLog = errorLog ? evaluateErrorLog(errorLog, options, live) : [];
  const findings = rankFindings([...live, ...fromLog]);
  const notes: string[] = [];
  if (errorLog && errorLog.lines.unknownUpstream > 0) {
    const unknown = errorLog.patterns.find((p) => p.id === 'unknown-upstream-error');
    notes.push(`${errorLog.lines.unknownUpstream} upstream error line(s) match no known pattern, e.g. ${unknown?.example ?? '?'}`);
  }
  if (errorLog && errorLog.lines.truncated > 0) notes.push(`${errorLog.lines.truncated} error-log line(s) longer than ${options.maxLineChars} characters were cut`);
  if (accessLog && accessLogHas5xx(accessLog)) {
    notes.push(
      `access log: ${accessLog.s502} × 502 and ${accessLog.s504} × 504${errorLog ? '' : ' — pass the proxy error log (--nginx-error-log) to name their cause'}`,
    );
  }
  if (accessLog && accessLog.lines.parsed === 0 && accessLog.lines.total > 0) {
    notes.push(`access log: none of ${accessLog.lines.total} lines is in a known format (combined, combined+upstream, json)`);
  }
  const unhealthy = findings.length > 0 || (errorLog?.lines.unknownUpstream ?? 0) > 0 || accessLogHas5xx(accessLog ?? undefined);
  return {
    schema: DOCTOR_SCHEMA,
    verdict: unhealthy ? 'findings' : 'healthy',
    exitCode: unhealthy ? 1 : 0,
    generatedAt: new Date().toISOString(),
    rootCause: rootCauseOf(findings),
    findings,
    facts,
    errorLog,
    accessLog,
    notes,
  };
}
