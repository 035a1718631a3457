import {
  createProxyLogClassifier,
  PROXY_LOG_PATTERNS,
  type CauseId,
  type FastClassification,
} from '../causes/index.js';
import {
  countFds,
  readFdLimits,
  readListenSockets,
  readSocketSnapshot,
  type SocketTarget,
  type TcpState,
} from '../proc/index.js';
import { debug } from '../util/index.js';
import { normalizeUpstream, type PatternSummary } from './error-log.js';
import { createFinding, type Finding } from './findings.js';
import { readingsOf, type LogContext } from './log-rules.js';
import { findUpstream } from './nginx-config.js';
import { tailFile } from './tail.js';
import { resolveDoctorOptions, type DoctorOptions } from './options.js';
import { loadProxyContext } from './proxy-context.js';
import { badOption } from '../errors/index.js';

/*
 * The flight recorder: `doctor --follow --nginx-error-log FILE`. A backlog overflow lasts as long as
 * its burst; sampled afterwards the queue is empty and doctor says healthy. Following the log, each
 * new upstream error line makes doctor sample *that* upstream at once (the queue at the moment of
 * the error, the owner's fds, connection states), rate-limited so a flood of lines is not a flood of
 * samples; lines are grouped into incidents (one per cause and upstream, closed after a quiet spell),
 * each reported as one finding.
 */

/** Options of {@link followErrorLog}. */
export interface FollowOptions {
  /** An incident closes after this long without a line of it, ms. Default 5000. */
  quietCloseMs: number;
  /** At most this many samples a second in all. Default 5. */
  maxSamplesPerSecond: number;
  /** At most one sample of one upstream per this long, ms. Default 200. */
  minSampleGapMs: number;
  /** File poll period, ms. Default 50. */
  pollMs: number;
  maxLineChars: number;
  /** Read the file from its start instead of following only new lines. Default false. */
  fromStart: boolean;
  signal?: AbortSignal;
}

export const FOLLOW_DEFAULTS: Readonly<Omit<FollowOptions, 'signal'>> = Object.freeze({
  quietCloseMs: 5000,
  maxSamplesPerSecond: 5,
  minSampleGapMs: 200,
  pollMs: 50,
  maxLineChars: 16 * 1024,
  fromStart: false,
});

/** The upstream at the moment of an error line. Plain JSON. */
export interface FollowSample {
  at: string;
  /** Time from reading the line to the start of the sample, ms. */
  delayMs: number;
  /** What the sample cost, ms. */
  costMs: number;
  /** `unix:/run/app.sock`, `127.0.0.1:8080`. */
  target: string;
  /** Nothing listens there (or no socket file). */
  listening: boolean;
  queue: number | null;
  backlog: number | null;
  pid: number | null;
  fds: { open: number; soft: number | null } | null;
  states: Partial<Record<TcpState, number>> | null;
}

/** Lines of one cause on one upstream, close together in time. Plain JSON. */
export interface Incident {
  id: number;
  upstream: string;
  cause: CauseId;
  alsoConsistentWith: CauseId[];
  /** Log times of the first and last line. */
  firstSeen: string;
  lastSeen: string;
  openedAt: string;
  closedAt: string | null;
  lines: number;
  statuses: Record<'502' | '504' | '500' | 'none', number>;
  patterns: { id: string; count: number }[];
  example: string;
  /** Samples kept: the first, the one with the fullest queue, the last (at most 3). */
  samples: FollowSample[];
  sampled: number;
  /** Samples skipped by the rate limit. */
  skipped: number;
  finding: Finding | null;
}

/** What the recorder reports as it goes. */
export type FollowEvent =
  | { event: 'opened'; incident: Incident }
  | { event: 'closed'; incident: Incident }
  | { event: 'notice'; message: string };

interface OpenIncident extends Incident {
  lastLineAtMs: number;
  byPattern: Map<string, number>;
  kept: { first?: FollowSample; worst?: FollowSample; last?: FollowSample };
}

/** The local address to sample for an upstream of a line: itself, or a config group's local servers. */
export function sampleTargets(upstream: string, context: LogContext): { label: string; target: SocketTarget }[] {
  const direct = asTarget(upstream);
  if (direct) return [direct];
  const out: { label: string; target: SocketTarget }[] = [];
  for (const c of context.proxy.configs) {
    const u = findUpstream(c, upstream);
    for (const s of u?.servers ?? []) {
      const t = asTarget(s.address);
      if (t) out.push(t);
    }
  }
  return out;
}

const LOCAL = /^(?:127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1|0\.0\.0\.0)$/;

function asTarget(address: string): { label: string; target: SocketTarget } | undefined {
  if (address.startsWith('unix:')) return { label: address, target: { unixSocket: address.slice(5) } };
  const m = /^(.*):(\d+)$/.exec(address);
  if (!m || !LOCAL.test(m[1]!)) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { label: address, target: { port } } : undefined;
}

/**
 * One sample of an upstream: its listener's queue and backlog (one ss call), its owner's fds (a
 * stat and the limits) and connection states (one more ss call). The owner is looked up once per
 * upstream, in the background (`ss -p` reads every process's fds), and cached.
 */
export function createUpstreamSampler(): (
  label: string,
  target: SocketTarget,
  delayMs: number,
) => Promise<FollowSample> {
  const owners = new Map<string, number | null>();
  const looking = new Set<string>();
  const lookUpOwner = (label: string, target: SocketTarget): void => {
    if (looking.has(label)) return;
    looking.add(label);
    readListenSockets('unixSocket' in target ? { unixSocket: target.unixSocket } : { port: target.port })
      .then((sockets) => owners.set(label, sockets.find((s) => s.pid !== undefined)?.pid ?? null))
      .catch(() => owners.set(label, null))
      .finally(() => looking.delete(label));
  };
  return async (label, target, delayMs) => {
    const start = performance.now();
    const snap = await readSocketSnapshot(target).catch(() => undefined);
    let pid = owners.get(label) ?? null;
    if (!owners.has(label) && snap && snap.listeners > 0) lookUpOwner(label, target);
    let fds: FollowSample['fds'] = null;
    if (pid !== null) {
      try {
        const [open, limits] = await Promise.all([countFds(pid), readFdLimits(pid)]);
        fds = { open, soft: limits.soft };
      } catch {
        owners.delete(label); // gone: look again next time
        pid = null;
      }
    }
    return {
      at: new Date().toISOString(),
      delayMs: Math.round(delayMs * 10) / 10,
      costMs: Math.round((performance.now() - start) * 10) / 10,
      target: label,
      listening: (snap?.listeners ?? 0) > 0,
      queue: snap?.queue ?? null,
      backlog: snap?.backlog ?? null,
      pid,
      fds,
      states: snap?.states ?? null,
    };
  };
}

/** Causes a sample shows by itself (a full queue, fds at the limit, nothing listening). */
function sampleCauses(samples: readonly FollowSample[]): Set<CauseId> {
  const out = new Set<CauseId>();
  for (const s of samples) {
    if (!s.listening) out.add('upstream-down');
    if (s.queue !== null && s.backlog !== null && s.queue >= s.backlog)
      out.add(s.target.startsWith('unix:') ? 'backlog-overflow-unix' : 'backlog-overflow-tcp');
    if (s.fds && s.fds.soft && s.fds.open >= 0.95 * s.fds.soft) out.add('fd-exhaustion');
    if ((s.states?.CLOSE_WAIT ?? 0) > 0 && s.fds?.soft && s.fds.open >= 0.8 * s.fds.soft) out.add('close-wait-leak');
  }
  return out;
}

/** The incident's finding: its cause decided with what its samples showed. */
function incidentFinding(inc: OpenIncident, context: LogContext): Finding {
  const patterns = [...inc.byPattern.entries()];
  const shown = sampleCauses(inc.samples);
  const causes = new Set<CauseId>();
  const all: CauseId[] = [];
  for (const [id] of patterns) {
    const p = PROXY_LOG_PATTERNS.find((x) => x.id === id);
    const readings = readingsOf(
      {
        id,
        level: null,
        format: 'nginx',
        status: null,
        causes: p?.causes ?? [],
        count: 0,
        firstSeen: null,
        lastSeen: null,
        example: '',
        upstreams: [{ name: inc.upstream, count: 1 }],
      },
      context,
      shown,
    ).causes;
    if (readings[0]) causes.add(readings[0]);
    all.push(...readings);
  }
  const cause = [...causes][0] ?? inc.cause;
  inc.cause = cause;
  inc.alsoConsistentWith = [...new Set(all)].filter((c) => c !== cause);
  const worst = inc.samples.reduce<FollowSample | undefined>(
    (w, s) => (s.queue !== null && (w === undefined || (s.queue ?? 0) > (w.queue ?? 0)) ? s : w),
    undefined,
  );
  const at = worst
    ? `; at the error: ${worst.listening ? `accept queue ${worst.queue ?? '?'}/${worst.backlog ?? '?'}` : 'nothing listening'}${worst.fds ? `, owner pid ${worst.pid} ${worst.fds.open}/${worst.fds.soft ?? '∞'} fds` : ''} (sampled at ${worst.at.slice(11, 23)}, ${worst.delayMs} ms after doctor read the line)`
    : inc.sampled === 0
      ? '; not sampled (not a local address)'
      : '';
  const statusText = Object.entries(inc.statuses)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} × ${s}`)
    .join(', ');
  const where = inc.upstream.startsWith('unix:')
    ? { socket: inc.upstream.slice(5) }
    : /:(\d+)$/.test(inc.upstream)
      ? { port: Number(/:(\d+)$/.exec(inc.upstream)![1]) }
      : {};
  return createFinding(
    cause,
    {
      severity: inc.lines >= 10 || shown.has(cause) ? 'critical' : 'warning',
      source: 'error-log',
      target: inc.upstream,
      summary: `${inc.lines} line${inc.lines === 1 ? '' : 's'} (${statusText}) from ${inc.firstSeen} to ${inc.lastSeen}${at}`,
      evidence: [
        ...patterns.map(([id, n]) => `${n} × ${id}`),
        `  e.g. ${inc.example}`,
        ...inc.samples.map(
          (s) =>
            `sample ${s.at.slice(11, 23)} (+${s.delayMs} ms, took ${s.costMs} ms): ${s.target} ${s.listening ? `queue ${s.queue ?? '?'}/${s.backlog ?? '?'}` : 'nothing listening'}${s.pid !== null ? `, pid ${s.pid}` : ''}${s.fds ? ` fds ${s.fds.open}/${s.fds.soft ?? '∞'}` : ''}${
              s.states
                ? `, connections ${
                    Object.entries(s.states)
                      .map(([k, v]) => `${k} ${v}`)
                      .join(' ') || 'none'
                  }`
                : ''
            }`,
        ),
        `${inc.sampled} sample(s) taken, ${inc.skipped} skipped by the rate limit`,
      ],
      alsoConsistentWith: inc.alsoConsistentWith,
    },
    { ...where, ...(worst?.pid ? { pid: worst.pid } : {}) },
  );
}

/** A new incident for the first line of a cause at an upstream. */
function openIncident(id: number, upstream: string, readings: CauseId[], time: string, line: string): OpenIncident {
  return {
    id,
    upstream,
    cause: readings[0] ?? 'upstream-down',
    alsoConsistentWith: readings.slice(1),
    firstSeen: time,
    lastSeen: time,
    openedAt: new Date().toISOString(),
    closedAt: null,
    lines: 0,
    statuses: { '502': 0, '504': 0, '500': 0, none: 0 },
    patterns: [],
    example: line.slice(0, 1000),
    samples: [],
    sampled: 0,
    skipped: 0,
    finding: null,
    lastLineAtMs: 0,
    byPattern: new Map(),
    kept: {},
  };
}

/** An incident as reported: without the bookkeeping that only the follower needs. */
function plainIncident(inc: OpenIncident): Incident {
  const { lastLineAtMs: _a, byPattern: _b, kept: _c, ...plain } = inc;
  return plain;
}

/**
 * Follows an nginx-format error log until `signal` aborts (then closes the open incidents) and
 * reports incidents through `onEvent`. Resolves with every incident.
 */
export async function followErrorLog(
  file: string,
  context: LogContext,
  onEvent: (e: FollowEvent) => void,
  user: Partial<FollowOptions> = {},
): Promise<Incident[]> {
  const o: FollowOptions = { ...FOLLOW_DEFAULTS, ...user };
  const classifier = createProxyLogClassifier();
  const scratch = {} as FastClassification;
  const open = new Map<string, OpenIncident>();
  const done: Incident[] = [];
  const sampler = createRateLimitedSampler(o, context);
  let nextId = 1;
  const close = (key: string, inc: OpenIncident): void => {
    open.delete(key);
    inc.closedAt = new Date().toISOString();
    inc.finding = incidentFinding(inc, context);
    const plain = plainIncident(inc);
    done.push(plain);
    onEvent({ event: 'closed', incident: plain });
  };
  const onLine = (line: string): void => {
    const c = classifier.classify(line, scratch);
    if (!c || (c.status === null && c.causes.length === 0)) return;
    const upstream = c.upstream === null ? '(none)' : normalizeUpstream(c.upstream);
    const readings = readingsOfLine(c, upstream, context);
    const key = `${readings[0] ?? c.patternId}\0${upstream}`;
    let inc = open.get(key);
    if (!inc) {
      inc = openIncident(nextId++, upstream, readings, c.time, line);
      open.set(key, inc);
      onEvent({ event: 'opened', incident: plainIncident(inc) });
    }
    inc.lines += 1;
    inc.lastSeen = c.time.slice(0);
    inc.lastLineAtMs = performance.now();
    inc.statuses[c.status === null ? 'none' : (String(c.status) as '502')] += 1;
    inc.byPattern.set(c.patternId, (inc.byPattern.get(c.patternId) ?? 0) + 1);
    inc.patterns = [...inc.byPattern.entries()].map(([id, count]) => ({ id, count }));
    if (upstream !== '(none)') sampler.sample(inc);
  };
  const closer = setInterval(
    () => {
      const now = performance.now();
      for (const [key, inc] of open) if (now - inc.lastLineAtMs >= o.quietCloseMs) close(key, inc);
    },
    Math.min(500, o.quietCloseMs),
  );
  try {
    await tailFile(file, onLine, {
      pollMs: o.pollMs,
      maxLineChars: o.maxLineChars,
      fromStart: o.fromStart,
      ...(o.signal ? { signal: o.signal } : {}),
      onNotice: (message) => onEvent({ event: 'notice', message }),
      onReady: () =>
        onEvent({
          event: 'notice',
          message: `following ${file} from its ${o.fromStart ? 'start' : 'end'} (Ctrl-C stops)`,
        }),
    });
  } finally {
    clearInterval(closer);
    await sampler.settled();
    for (const [key, inc] of open) close(key, inc);
    debug('doctor: follow ended, %d incident(s)', done.length);
  }
  return done;
}

/** What {@link followErrorLog} samples upstreams with. */
interface RateLimitedSampler {
  /** Samples `inc`'s upstream now, or counts the sample as skipped. */
  sample(inc: OpenIncident): void;
  /** Resolves once every sample under way has ended. */
  settled(): Promise<void>;
}

/**
 * Samples an incident's upstream at once, within the rate limit: at most `maxSamplesPerSecond` in
 * all and one per upstream per `minSampleGapMs`, so a flood of lines is not a flood of samples.
 * A sample the limit skips is counted on the incident.
 */
function createRateLimitedSampler(o: FollowOptions, context: LogContext): RateLimitedSampler {
  const sample = createUpstreamSampler();
  const lastSample = new Map<string, number>();
  const window: number[] = [];
  const pending = new Set<Promise<void>>();
  return {
    sample(inc) {
      const now = performance.now();
      for (const { label, target } of sampleTargets(inc.upstream, context)) {
        while (window.length > 0 && now - window[0]! > 1000) window.shift();
        if (window.length >= o.maxSamplesPerSecond || now - (lastSample.get(label) ?? -Infinity) < o.minSampleGapMs) {
          inc.skipped += 1;
          continue;
        }
        window.push(now);
        lastSample.set(label, now);
        const job = sample(label, target, performance.now() - now).then((s) => {
          inc.sampled += 1;
          keepSample(inc, s);
        });
        pending.add(job);
        void job.finally(() => pending.delete(job));
      }
    },
    settled: async () => {
      await Promise.allSettled([...pending]);
    },
  };
}

/** The causes one line reads as: {@link readingsOf} for a pattern seen once, at `upstream`. */
function readingsOfLine(c: FastClassification, upstream: string, context: LogContext): CauseId[] {
  const pattern: PatternSummary = {
    id: c.patternId,
    level: null,
    format: 'nginx',
    status: null,
    causes: c.causes,
    count: 0,
    firstSeen: null,
    lastSeen: null,
    example: '',
    upstreams: [{ name: upstream, count: 1 }],
  };
  return readingsOf(pattern, context, new Set()).causes;
}

/** Keeps the first sample, the one with the fullest queue, and the last. */
function keepSample(inc: OpenIncident, s: FollowSample): void {
  inc.kept.first ??= s;
  if (!inc.kept.worst || (s.queue ?? -1) > (inc.kept.worst.queue ?? -1)) inc.kept.worst = s;
  inc.kept.last = s;
  inc.samples = [...new Set([inc.kept.first, inc.kept.worst, inc.kept.last])];
}

/**
 * `doctor --follow`: reads the proxy's config (for upstream groups and what it rules out) once, then
 * follows the error log until `signal` aborts. Throws BG_BAD_OPTION unless exactly one log is given.
 */
export async function runFollow(
  user: Partial<DoctorOptions>,
  follow: Partial<FollowOptions>,
  onEvent: (e: FollowEvent) => void,
): Promise<{ incidents: Incident[]; unseen: string[] }> {
  const options = resolveDoctorOptions(user);
  if (options.errorLogs.length !== 1)
    throw badOption('--nginx-error-log', options.errorLogs.join(' '), 'exactly one error log to follow with --follow');
  const proxy = await loadProxyContext(options);
  const incidents = await followErrorLog(options.errorLogs[0]!, { proxy, crashes: [] }, onEvent, {
    maxLineChars: options.maxLineChars,
    ...follow,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { incidents, unseen: proxy.unseen };
}
