import type { AccessLogSummary } from './access-log.js';
import { collectFacts, type DoctorFacts, type NetstatSample, type UnixSample } from './collectors.js';
import { ErrorLogAggregator, type ErrorLogSummary } from './error-log.js';
import { createLogReader } from './log-follow.js';
import { rankFindings, type Finding } from './findings.js';
import { resolveDoctorOptions, type DoctorOptions } from './options.js';
import { accessLogHas5xx, evaluateLiveRules } from './rules.js';
import { evaluateErrorLog, type LogContext } from './log-rules.js';
import { readKernelCrashes, summarizeAppLogs, type CrashLogSummary } from './app-log.js';
import { loadProxyContext, NO_PROXY_CONTEXT, type ProxyContext } from './proxy-context.js';
import type { Readable } from 'node:stream';
import { debug } from '../util/index.js';

/** Version of the JSON report; bumped only on incompatible changes. */
export const DOCTOR_SCHEMA = 'badgateway.doctor/v1';

/** What `badgateway doctor` found. Plain JSON: `--json` prints exactly this. */
export interface DoctorReport {
  schema: typeof DOCTOR_SCHEMA;
  /**
   * `healthy`: nothing found and every fact looked for was read (exit 0); `findings`: at least one
   * finding or unexplained 5xx (exit 1); `incomplete`: nothing found, but facts of a target could not
   * be read (another user's process): doctor cannot call it healthy (exit 2).
   */
  verdict: 'healthy' | 'findings' | 'incomplete';
  exitCode: 0 | 1 | 2;
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
  /** The proxy's configuration(s) doctor read (`--nginx-conf`, or `nginx -T` of a running nginx); empty when none. */
  proxyConfigs: ProxyContext['configs'];
  /** Worker deaths found in `--app-log` files and the kernel log. */
  crashLogs: CrashLogSummary[];
  /** What doctor tried to read and could not (an unreadable config, nginx -T denied, no kernel log): what was not seen. */
  unseen: string[];
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
  return {
    cause: f.cause,
    title: f.title,
    severity: f.severity,
    source: f.source,
    target: f.target,
    sentence: f.summary,
    alternatives: f.alsoConsistentWith,
    effects: f.causes,
  };
}

/** Re-samples live facts (for --watch / --prometheus); see {@link createLogReader} for the logs; the proxy's config and the app/kernel logs are read once, on the first sample. */
export interface DoctorSampler {
  sample(): Promise<DoctorReport>;
}

/**
 * Creates a sampler; each `sample()` is one full diagnosis, with counter deltas since the last one.
 * Logs are read on the first sample; with `follow` (watch mode) each later sample adds the lines
 * appended since, so the log counts only grow.
 */
export function createDoctorSampler(
  user: Partial<DoctorOptions> = {},
  io: { stdin?: Readable } = {},
  { follow = false } = {},
): DoctorSampler {
  const options = resolveDoctorOptions(user);
  let previous: NetstatSample | undefined;
  let previousUnix: UnixSample | undefined;
  const logReader = createLogReader(options, io, { follow });
  let context: LogContext | undefined;
  return {
    async sample() {
      const start = performance.now();
      const { errorLog, accessLog } = await logReader.read();
      if (!context && (errorLog || accessLog)) {
        debug(
          'doctor: read logs in %d ms (%d error-log lines, %d access-log lines)',
          Math.round(performance.now() - start),
          errorLog?.lines.total ?? 0,
          accessLog?.lines.total ?? 0,
        );
      }
      context ??= await readContext(options, errorLog);
      const explicit = options.pids.length + options.ports.length + options.unixSockets.length > 0;
      const wantsLive =
        explicit ||
        context.proxy.configs.length > 0 ||
        (options.scanAll &&
          options.errorLogs.length +
            options.proxyLogs.length +
            options.accessLogs.length +
            options.appLogs.length +
            options.nginxConfs.length ===
            0);
      let facts: DoctorFacts | null = null;
      if (wantsLive) {
        const start = performance.now();
        const collected = await collectFacts(options, previous, previousUnix, context.proxy);
        facts = collected.facts;
        previous = collected.netstat;
        previousUnix = collected.unix;
        debug('doctor: collected %d target(s) in %d ms', facts.targets.length, Math.round(performance.now() - start));
      }
      return buildReport(options, facts, errorLog, accessLog, context);
    },
  };
}

/** What is read once per doctor run besides the logs: the proxy's config, worker deaths. */
async function readContext(options: DoctorOptions, errorLog: ErrorLogSummary | null): Promise<LogContext> {
  const proxy =
    options.nginxConfs.length > 0 || options.discoverProxy || options.proxyUser
      ? await loadProxyContext(options)
      : { ...NO_PROXY_CONTEXT, unseen: [] };
  return { proxy, crashes: await readCrashLogs(options, errorLog, proxy.unseen) };
}

/** App logs (each readable one) and, when a worker death is in question, the kernel log. */
async function readCrashLogs(
  options: DoctorOptions,
  errorLog: ErrorLogSummary | null,
  unseen: string[],
): Promise<CrashLogSummary[]> {
  const out: CrashLogSummary[] = [];
  for (const file of options.appLogs) {
    try {
      out.push(
        await summarizeAppLogs([file], {
          maxLineChars: options.maxLineChars,
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      );
    } catch (err) {
      unseen.push(err instanceof Error ? err.message : String(err));
    }
  }
  const deathInQuestion =
    options.appLogs.length > 0 || (errorLog?.patterns.some((p) => p.causes.includes('upstream-crash')) ?? false);
  if (options.kernelLog && deathInQuestion) {
    const kernel = await readKernelCrashes();
    if ('unreadable' in kernel) unseen.push(kernel.unreadable);
    else if (kernel.crashes.length > 0) out.push(kernel);
  }
  return out;
}

/** One diagnosis: collect → rules → verdict. Throws BG_NO_SUCH_PID / BG_PERMISSION / BG_UNREADABLE when it cannot inspect. */
export async function runDoctor(
  user: Partial<DoctorOptions> = {},
  io: { stdin?: Readable } = {},
): Promise<DoctorReport> {
  return createDoctorSampler(user, io).sample();
}

/** No error log: the log rules still turn app/kernel worker deaths into a finding. */
const EMPTY_ERROR_LOG: ErrorLogSummary = new ErrorLogAggregator().summary();

/** Applies the rules to collected facts and log summaries (pure; exported for tests). */
export function buildReport(
  options: DoctorOptions,
  facts: DoctorFacts | null,
  errorLog: ErrorLogSummary | null,
  accessLog: AccessLogSummary | null,
  context: LogContext = { proxy: NO_PROXY_CONTEXT, crashes: [] },
): DoctorReport {
  const live = facts ? evaluateLiveRules(facts, options, context.proxy) : [];
  const fromLog = errorLog
    ? evaluateErrorLog(errorLog, options, live, context)
    : evaluateErrorLog(EMPTY_ERROR_LOG, options, live, context);
  const findings = rankFindings([...live, ...fromLog]);
  const notes: string[] = [];
  if (errorLog && errorLog.lines.unknownUpstream > 0) {
    const unknown = errorLog.patterns.find((p) => p.id === 'unknown-upstream-error');
    notes.push(
      `${errorLog.lines.unknownUpstream} upstream error line(s) match no known pattern, e.g. ${unknown?.example ?? '?'}`,
    );
  }
  if (errorLog && errorLog.lines.truncated > 0)
    notes.push(`${errorLog.lines.truncated} error-log line(s) longer than ${options.maxLineChars} characters were cut`);
  if (accessLog && accessLogHas5xx(accessLog)) {
    notes.push(
      `access log: ${accessLog.s502} × 502 and ${accessLog.s504} × 504${errorLog ? '' : ' — pass the proxy error log (--nginx-error-log) to name their cause'}`,
    );
  }
  if (accessLog && accessLog.lines.parsed === 0 && accessLog.lines.total > 0) {
    notes.push(
      `access log: none of ${accessLog.lines.total} lines is in a known format (combined, combined+upstream, json)`,
    );
  }
  const unhealthy =
    findings.length > 0 || (errorLog?.lines.unknownUpstream ?? 0) > 0 || accessLogHas5xx(accessLog ?? undefined);
  // What a target's own facts lacked weighs on the verdict; a config or kernel log not read does not.
  const targetUnseen = (facts?.targets ?? []).flatMap((t) => t.unseen ?? []);
  const verdict = unhealthy ? 'findings' : targetUnseen.length > 0 ? 'incomplete' : 'healthy';
  return {
    schema: DOCTOR_SCHEMA,
    verdict,
    exitCode: verdict === 'findings' ? 1 : verdict === 'incomplete' ? 2 : 0,
    generatedAt: new Date().toISOString(),
    rootCause: rootCauseOf(findings),
    findings,
    facts,
    errorLog,
    accessLog,
    proxyConfigs: context.proxy.configs,
    crashLogs: context.crashes,
    unseen: [...targetUnseen, ...context.proxy.unseen],
    notes,
  };
}
