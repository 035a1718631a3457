import { getCause, type CauseId } from '../causes/index.js';
import type { CrashLogSummary } from './app-log.js';
import type { ErrorLogSummary, PatternSummary } from './error-log.js';
import { createFinding, type Finding } from './findings.js';
import { findUpstream } from './nginx-config.js';
import type { DoctorOptions } from './options.js';
import type { ProxyContext } from './proxy-context.js';

/** What besides the log lines decides between a pattern's readings. */
export interface LogContext {
  proxy: ProxyContext;
  /** Worker deaths from app and kernel logs. */
  crashes: CrashLogSummary[];
}

/** A cause the proxy config makes impossible for some lines, and why. */
export interface RuledOut {
  cause: CauseId;
  why: string;
}

/**
 * The readings of a pattern's lines that the facts allow, most likely first: the catalogue's order,
 * minus what the proxy config rules out (no keep-alive pool: no race), with a cause that live
 * evidence shows, then a worker death the app or kernel log shows, moved to the front.
 */
export function readingsOf(
  p: PatternSummary,
  context: LogContext,
  liveCauses: ReadonlySet<CauseId>,
): { causes: CauseId[]; ruledOut: RuledOut[] } {
  const ruledOut: RuledOut[] = [];
  const race = raceRuledOut(p, context.proxy);
  if (race && p.causes.includes('keepalive-race')) ruledOut.push({ cause: 'keepalive-race', why: race });
  let causes = p.causes.filter((c) => !ruledOut.some((r) => r.cause === c));
  const crashed = context.crashes.some((c) => c.crashes.length > 0);
  const first =
    causes.find((c) => liveCauses.has(c)) ??
    (crashed && causes.includes('upstream-crash') ? 'upstream-crash' : undefined);
  if (first) causes = [first, ...causes.filter((c) => c !== first)];
  return { causes, ruledOut };
}

/** Why a keep-alive race is impossible for these lines (every upstream they name has no pool), or undefined. */
function raceRuledOut(p: PatternSummary, proxy: ProxyContext): string | undefined {
  if (proxy.configs.length === 0) return undefined;
  const names = p.upstreams.map((u) => u.name).filter((n) => n !== '(none)' && n !== '(other)');
  const found = names.map((n) =>
    proxy.configs.map((c) => ({ c, u: findUpstream(c, n) })).find((x) => x.u !== undefined),
  );
  if (names.length > 0 && found.some((x) => x === undefined)) return undefined; // an upstream no config names
  const pools =
    names.length > 0 ? found.map((x) => x!) : proxy.configs.flatMap((c) => c.upstreams.map((u) => ({ c, u })));
  if (pools.length === 0 || pools.some(({ u }) => u!.keepalive > 0 && u!.poolEffective)) return undefined;
  const list = [...new Set(pools.map(({ c, u }) => `${u!.name} (${c.source})`))].join(', ');
  return `no keep-alive pool for ${list}: nginx opened a new connection for every request, so none was reused and no race was possible`;
}

function patternEvidence(p: PatternSummary): string[] {
  return [
    `${p.count} × [${p.level ?? p.format ?? '?'}] ${p.id}${p.status === null ? '' : ` (${p.status})`}${p.firstSeen === null ? '' : ` from ${p.firstSeen} to ${p.lastSeen ?? '?'}`}; upstreams: ${p.upstreams
      .slice(0, 3)
      .map((u) => `${u.name} ${u.count}`)
      .join(', ')}${p.upstreams.length > 3 ? ', …' : ''}`,
    `  e.g. ${p.example}`,
  ];
}

/** `3 × gunicorn WORKER TIMEOUT (pids 12, 13) in app.log` lines, with an example each. */
export function crashEvidence(context: LogContext): string[] {
  return context.crashes.flatMap((log) =>
    log.crashes.flatMap((c) => [
      `${c.count} × ${c.pattern}${c.pids.length > 0 ? ` (pid ${c.pids.slice(0, 5).join(', ')}${c.pids.length > 5 ? ', …' : ''})` : ''} in ${log.sources.join(', ')}`,
      `  e.g. ${c.example}`,
    ]),
  );
}

/**
 * Findings from an error log: the lines of each pattern go to their most likely reading given the
 * facts (see {@link readingsOf}). A reading that a live finding already shows gets the lines as
 * evidence there instead of a finding of its own; the others become one finding per cause, with
 * the readings the facts could not rule out in `alsoConsistentWith`.
 */
export function evaluateErrorLog(
  summary: ErrorLogSummary,
  options: DoctorOptions,
  live: Finding[],
  context: LogContext = { proxy: { configs: [], proxyUser: null, unseen: [] }, crashes: [] },
): Finding[] {
  const liveCauses = new Set(live.map((f) => f.cause));
  const byCause = new Map<CauseId, { patterns: PatternSummary[]; also: Set<CauseId>; ruledOut: RuledOut[] }>();
  for (const p of summary.patterns) {
    const { causes, ruledOut } = readingsOf(p, context, liveCauses);
    const primary = causes[0];
    if (!primary) continue;
    const entry = byCause.get(primary) ?? { patterns: [], also: new Set<CauseId>(), ruledOut: [] };
    entry.patterns.push(p);
    for (const c of causes.slice(1)) entry.also.add(c);
    for (const r of ruledOut) if (!entry.ruledOut.some((x) => x.cause === r.cause)) entry.ruledOut.push(r);
    byCause.set(primary, entry);
  }
  const findings: Finding[] = [];
  for (const [cause, { patterns, also, ruledOut }] of byCause) {
    const lines = patterns.reduce((n, p) => n + p.count, 0);
    const alsoList = [...also].filter((c) => c !== cause);
    const ruled = ruledOut.map((r) => `${r.cause} ruled out: ${r.why}`);
    const crashes = cause === 'upstream-crash' ? crashEvidence(context) : [];
    const shown = live.filter((f) => f.cause === cause);
    if (shown.length > 0) {
      for (const f of shown) {
        f.evidence.push(
          `error log: ${lines} line(s) of ${patterns.map((p) => p.id).join(', ')} (${[...new Set(patterns.map((p) => p.status ?? 'no status'))].join('/')}) — this cause, shown live`,
          ...ruled,
        );
      }
      continue;
    }
    const statusText = [...new Set(patterns.map((p) => p.status).filter((s) => s !== null))].join('/');
    // nginx's error log, or the log of another proxy (HAProxy, Caddy, Envoy, Traefik, ALB).
    const log = patterns.every((p) => (p.format ?? 'nginx') === 'nginx') ? 'error-log' : 'proxy-log';
    findings.push(
      createFinding(cause, {
        severity: lines >= options.logCriticalLines || crashes.length > 0 ? 'critical' : 'warning',
        source: 'error-log',
        target: log === 'error-log' ? 'error log' : 'proxy log',
        summary:
          `${lines} ${log} line${lines === 1 ? '' : 's'}${statusText ? ` (${statusText})` : ''} ${getCause(cause)?.side === 'proxy' ? 'from the proxy itself' : 'point here'}` +
          (crashes.length > 0
            ? `, and the app log shows workers dying (${context.crashes
                .flatMap((c) => c.crashes)
                .map((c) => `${c.count} × ${c.pattern}`)
                .join(', ')})`
            : '') +
          (alsoList.length > 0 ? `; the same symptom can also be ${alsoList.join(', ')}` : ''),
        evidence: [...patterns.flatMap(patternEvidence), ...crashes, ...ruled],
        alsoConsistentWith: alsoList,
      }),
    );
    // Live evidence that picks one of the other readings gets the log lines as support.
    for (const f of live) {
      if (alsoList.includes(f.cause))
        f.evidence.push(
          `error log: ${lines} line(s) of ${patterns.map((p) => p.id).join(', ')} are consistent with this cause`,
        );
    }
  }
  const all = [...findings, ...crashOnlyFindings(findings, live, context, options)];
  linkCrashToDown(all, live, context);
  return all;
}

/**
 * Workers dying (the app or kernel log says so) and nothing listening now: the app is down because
 * it crashed. The crash is the cause, the empty listener its effect.
 */
function linkCrashToDown(fromLogs: Finding[], live: Finding[], context: LogContext): void {
  if (!context.crashes.some((c) => c.crashes.length > 0)) return;
  const crash = fromLogs.find((f) => f.cause === 'upstream-crash') ?? live.find((f) => f.cause === 'upstream-crash');
  if (!crash) return;
  for (const down of live.filter((f) => f.cause === 'upstream-down')) {
    if (!down.causedBy.includes('upstream-crash')) down.causedBy.push('upstream-crash');
    if (!crash.causes.includes('upstream-down')) crash.causes.push('upstream-down');
    if (crash.severity === 'warning') crash.severity = 'critical';
  }
}

/** Worker deaths in the app/kernel logs that no error-log finding took as evidence: a finding of their own. */
function crashOnlyFindings(
  fromLog: readonly Finding[],
  live: readonly Finding[],
  context: LogContext,
  options: DoctorOptions,
): Finding[] {
  const total = context.crashes.reduce((n, log) => n + log.crashes.reduce((m, c) => m + c.count, 0), 0);
  if (total === 0 || [...fromLog, ...live].some((f) => f.cause === 'upstream-crash')) return [];
  return [createCrashFinding(context, total, options)];
}

/** upstream-crash from the app and kernel logs alone. */
export function createCrashFinding(context: LogContext, total: number, options: DoctorOptions): Finding {
  const kinds = context.crashes.flatMap((c) => c.crashes).map((c) => `${c.count} × ${c.pattern}`);
  return createFinding('upstream-crash', {
    severity: total >= options.logCriticalLines ? 'critical' : 'warning',
    source: 'app-log',
    target: context.crashes.flatMap((c) => c.sources).join(', '),
    summary: `${total} worker death${total === 1 ? '' : 's'} in the app/kernel log (${kinds.join(', ')}): each request a dying worker held ends as a 502 (upstream prematurely closed connection)`,
    evidence: crashEvidence(context),
  });
}
