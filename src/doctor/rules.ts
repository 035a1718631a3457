import { getCause, type CauseId } from '../causes/index.js';
import type { AccessLogSummary } from './access-log.js';
import type { DoctorFacts, ListenerFacts, TargetFacts } from './collectors.js';
import type { ErrorLogSummary } from './error-log.js';
import { createFinding, severityOf, type Finding } from './findings.js';
import { closeWaitRule, fdChainRule } from './chains.js';
import { confirmValues, fdEvidence, pct, seconds, type LiveRule } from './rule-kit.js';
import type { DoctorOptions } from './options.js';

/**
 * Many connections with no traffic, holding fds. TCP: ESTABLISHED with no data either way for
 * `idleMs` (tcp_info timers). Unix sockets have no timers: accepted connections that stayed connected
 * with nothing queued either way across two samples (see ConnectionFacts.quiet).
 */
const idleRule: LiveRule = (target, _facts, options) => {
  const out: Finding[] = [];
  const seen = new Set<string>();
  for (const l of target.listeners) {
    const c = l.connections;
    if (!c) continue;
    const idle = l.kind === 'unix' ? (c.quiet?.count ?? null) : c.idle;
    if (idle === null) continue;
    const key = l.kind === 'unix' ? `unix:${l.path}` : `port:${l.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (idle < Math.max(1, options.idleSocketsMin)) continue;
    const p = target.process;
    const fdRatio = p?.fds.soft ? p.fds.ratio : 0;
    // Idle sockets are the leak only when they are a large share of what the process holds.
    if (p && idle < 0.5 * p.fds.byKind.socket) continue;
    const severity = fdRatio >= options.fdWarningRatio ? 'critical' : 'warning';
    const where = l.kind === 'unix' ? l.name : `port ${l.port}`;
    const evidence =
      l.kind === 'unix' && c.quiet
        ? [
            `${where}: ${idle} accepted connections stayed connected with nothing queued either way (Recv-Q 0, Send-Q 0) at two samples ${seconds(c.quiet.gapMs)} apart, ${c.quiet.connected} connected in all`,
            'unix sockets keep no idle timers: quiet at both samples is what shows idleness (requests still being processed look the same)',
          ]
        : [`${where}: ${idle} ESTABLISHED connections idle ≥ ${seconds(c.idleMs)} (longest ${c.maxIdleMs === null ? '?' : seconds(c.maxIdleMs)}), ${c.states.ESTABLISHED ?? 0} established in all`];
    if (p) evidence.push(`they hold ${idle} of the ${p.fds.open} fds of pid ${p.pid} (${p.fds.byKind.socket} sockets), soft limit ${p.fds.soft ?? 'unlimited'}`);
    if (l.keepAlive && l.keepAlive.status !== null && l.keepAlive.keepAliveTimeoutS === null) {
      evidence.push(`${l.keepAlive.url} keeps connections alive without announcing an idle timeout (no Keep-Alive: timeout=)`);
    }
    out.push(
      createFinding(
        'keepalive-leak',
        {
          severity,
          source: 'live',
          target: target.label,
          summary: `${idle} idle keep-alive connections on ${where} hold fds${severity === 'critical' ? ` and fds are at ${pct(fdRatio)} of the limit` : ''}`,
          evidence,
        },
        confirmValues(target, l),
      ),
    );
  }
  return out;
};

function backlogCause(l: ListenerFacts): CauseId {
  return l.kind === 'unix' ? 'backlog-overflow-unix' : 'backlog-overflow-tcp';
}

function somaxconnEvidence(l: ListenerFacts, facts: DoctorFacts): string[] {
  const s = facts.machine.somaxconn;
  if (s === null || l.backlog === null || l.backlog !== s) return [];
  return [`backlog ${l.backlog} equals net.core.somaxconn ${s}: the requested backlog is probably capped by it`];
}

/** Accept queue full or nearly so; backlog below the expected burst; somaxconn capping it. */
const queueRule: LiveRule = (target, facts, options) => {
  const out: Finding[] = [];
  for (const l of target.listeners) {
    if (l.queue === null || l.backlog === null) continue;
    const fill = l.backlog > 0 ? l.queue / l.backlog : l.queue > 0 ? 1 : 0;
    const severity = severityOf(fill, { warning: options.queueWarningRatio, critical: 1 });
    const evidence = [
      `${l.name}: ${l.queue} connections in the accept queue, backlog ${l.backlog} (${l.kind === 'unix' ? 'ss -xl' : 'ss -ltn'}: Recv-Q ${l.queue}, Send-Q ${l.backlog})`,
      ...somaxconnEvidence(l, facts),
    ];
    if (l.kind === 'unix') evidence.push('unix sockets do not count in TcpExt ListenOverflows: connect() fails at once with EAGAIN (502)');
    if (severity) {
      out.push(
        createFinding(
          backlogCause(l),
          {
            severity,
            source: 'live',
            target: target.label,
            summary: severity === 'critical' ? `accept queue of ${l.name} is full (${l.queue}/${l.backlog})` : `accept queue of ${l.name} is ${pct(fill)} full (${l.queue}/${l.backlog})`,
            evidence: [...evidence, ...fdEvidence(target)],
          },
          confirmValues(target, l),
        ),
      );
      continue;
    }
    if (options.burst > 0 && l.backlog < options.burst) {
      out.push(
        createFinding(
          backlogCause(l),
          {
            severity: 'warning',
            source: 'live',
            target: target.label,
            summary: `backlog ${l.backlog} of ${l.name} cannot hold a burst of ${options.burst} connections`,
            evidence: [`expected burst ${options.burst} (--burst) > backlog ${l.backlog}`, ...evidence],
          },
          confirmValues(target, l),
        ),
      );
      continue;
    }
    const s = facts.machine.somaxconn;
    if (s !== null && l.backlog === s && s < options.minSomaxconn) {
      out.push(
        createFinding(
          backlogCause(l),
          {
            severity: 'warning',
            source: 'live',
            target: target.label,
            summary: `net.core.somaxconn ${s} caps the backlog of ${l.name}`,
            evidence: [...somaxconnEvidence(l, facts), `somaxconn below ${options.minSomaxconn} cuts the usual backlogs (gunicorn 2048, Node 511)`],
          },
          confirmValues(target, l),
        ),
      );
    }
  }
  return out;
};

/** Upstream keep-alive timeout not longer than the proxy's idle timeout for pooled connections. */
const keepAliveRaceRule: LiveRule = (target, _facts, options) => {
  if (options.proxyIdleTimeoutMs <= 0) return [];
  const out: Finding[] = [];
  for (const l of target.listeners) {
    const probe = l.keepAlive;
    if (!probe || probe.keepAliveTimeoutS === null) continue;
    const upstreamMs = probe.keepAliveTimeoutS * 1000;
    if (upstreamMs > options.proxyIdleTimeoutMs) continue;
    out.push(
      createFinding(
        'keepalive-race',
        {
          severity: 'warning',
          source: 'live',
          target: target.label,
          summary: `upstream keep-alive timeout ${seconds(upstreamMs)} ≤ proxy idle timeout ${seconds(options.proxyIdleTimeoutMs)}: it closes pooled connections the proxy may reuse`,
          evidence: [
            `${probe.url} answers Keep-Alive: timeout=${probe.keepAliveTimeoutS}${target.process?.command ? ` (${target.process.command})` : ''}`,
            `proxy idle timeout for upstream connections ${seconds(options.proxyIdleTimeoutMs)} (--proxy-idle-timeout)`,
          ],
        },
        confirmValues(target, l),
      ),
    );
  }
  return out;
};

/** Nothing listens where the user pointed: the proxy's connect() is refused or finds no file. */
const downRule: LiveRule = (target) => {
  if (!target.missing) return [];
  const what =
    target.missing === 'no-socket-file'
      ? `no socket file at ${target.unixSocket}: the proxy's connect() fails with (2: No such file or directory)`
      : target.missing === 'stale-socket-file'
        ? `${target.unixSocket} exists but nothing listens on it (stale socket file): connect() is refused`
        : `nothing listens on port ${target.port}: connect() is refused (111)`;
  return [createFinding('upstream-down', { severity: 'critical', source: 'live', target: target.label, summary: what, evidence: [what] }, confirmValues(target))];
};

// The chain rule runs before the idle rule: when both name keepalive-leak for one process, the
// merged finding keeps the chain's summary (the first of two equally severe findings).
const LIVE_RULES: readonly LiveRule[] = [downRule, fdChainRule, closeWaitRule, idleRule, queueRule, keepAliveRaceRule];

/** TCP listen overflows between the two samples: SYNs dropped at a full accept queue somewhere. */
function overflowFindings(facts: DoctorFacts): Finding[] {
  const n = facts.machine.netstat;
  if (!n || (n.listenOverflows.delta <= 0 && n.listenDrops.delta <= 0)) return [];
  const full = facts.targets.flatMap((t) => t.listeners.filter((l) => l.kind !== 'unix' && (l.queue ?? 0) > 0).map((l) => `${l.name} (${t.label}): ${l.queue} queued, backlog ${l.backlog ?? '?'}`));
  return [
    createFinding('backlog-overflow-tcp', {
      severity: 'critical',
      source: 'live',
      target: 'machine',
      summary: `TcpExt ListenOverflows +${n.listenOverflows.delta}, ListenDrops +${n.listenDrops.delta} in ${seconds(n.intervalMs)}: a TCP accept queue overflows`,
      evidence: [
        `/proc/net/netstat TcpExt ListenOverflows ${n.listenOverflows.before} → ${n.listenOverflows.after}, ListenDrops ${n.listenDrops.before} → ${n.listenDrops.after} (machine-wide)`,
        ...(full.length > 0 ? full.map((f) => `listener with a queue: ${f}`) : ['no inspected listener has a queue now: the overflowing one may be elsewhere (doctor with no target scans all)']),
      ],
    }),
  ];
}

/**
 * Runs every live rule on every target, plus the machine-wide counter rule. One finding per cause and
 * process: `--pid N --unix-socket PATH` of the same process see the same fds, so their findings merge.
 */
export function evaluateLiveRules(facts: DoctorFacts, options: DoctorOptions): Finding[] {
  const byKey = new Map<string, Finding>();
  for (const target of facts.targets) {
    const who = target.process ? `pid ${target.process.pid}` : target.label;
    for (const rule of LIVE_RULES) {
      for (const finding of rule(target, facts, options)) {
        const key = `${finding.cause}\0${who}`;
        const known = byKey.get(key);
        byKey.set(key, known ? mergeFindings(known, finding) : finding);
      }
    }
  }
  return [...byKey.values(), ...overflowFindings(facts)];
}

const union = <T>(a: readonly T[], b: readonly T[]): T[] => [...new Set([...a, ...b])];

/** Two findings of one cause on one process: the more severe one's summary, every target and fact once. */
export function mergeFindings(a: Finding, b: Finding): Finding {
  const [first, second] = a.severity === 'warning' && b.severity === 'critical' ? [b, a] : [a, b];
  return {
    ...first,
    target: union(first.target.split(', '), second.target.split(', ')).join(', '),
    evidence: union(first.evidence, second.evidence),
    confirm: union(first.confirm, second.confirm),
    alsoConsistentWith: union(first.alsoConsistentWith, second.alsoConsistentWith),
    causes: union(first.causes, second.causes),
    causedBy: union(first.causedBy, second.causedBy),
  };
}

/**
 * Findings from an error log: one per cause that is the most likely reading of some lines (a
 * pattern's first cause), with the other causes its symptom can stand for. When live findings
 * name one of those others, the log lines are added to that finding as evidence too.
 */
export function evaluateErrorLog(summary: ErrorLogSummary, options: DoctorOptions, live: Finding[]): Finding[] {
  const byCause = new Map<CauseId, ErrorLogSummary['patterns']>();
  for (const p of summary.patterns) {
    const primary = p.causes[0];
    if (!primary) continue;
    byCause.set(primary, [...(byCause.get(primary) ?? []), p]);
  }
  const findings: Finding[] = [];
  for (const [cause, patterns] of byCause) {
    const lines = patterns.reduce((n, p) => n + p.count, 0);
    const also = [...new Set(patterns.flatMap((p) => p.causes.slice(1)))].filter((c) => c !== cause);
    const evidence = patterns.flatMap((p) => [
      `${p.count} × [${p.level ?? '?'}] ${p.id}${p.status === null ? '' : ` (${p.status})`} from ${p.firstSeen ?? '?'} to ${p.lastSeen ?? '?'}; upstreams: ${p.upstreams
        .slice(0, 3)
        .map((u) => `${u.name} ${u.count}`)
        .join(', ')}${p.upstreams.length > 3 ? ', …' : ''}`,
      `  e.g. ${p.example}`,
    ]);
    const statusText = [...new Set(patterns.map((p) => p.status).filter((s) => s !== null))].join('/');
    findings.push(
      createFinding(cause, {
        severity: lines >= options.logCriticalLines ? 'critical' : 'warning',
        source: 'error-log',
        target: 'error log',
        summary: `${lines} error-log line${lines === 1 ? '' : 's'}${statusText ? ` (${statusText})` : ''} ${getCause(cause)?.side === 'proxy' ? 'from the proxy itself' : 'point here'}${also.length > 0 ? `; the same symptom can also be ${also.join(', ')}` : ''}`,
        evidence,
        alsoConsistentWith: also,
      }),
    );
    // Live evidence that picks one of the other readings gets the log lines as support.
    for (const f of live) {
      if (also.includes(f.cause)) f.evidence.push(`error log: ${lines} line(s) of ${patterns.map((p) => p.id).join(', ')} are consistent with this cause`);
    }
  }
  return findings;
}

/** Access-log 502/504 are symptoms without a cause: they never make a finding alone (see the verdict). */
export function accessLogHas5xx(summary: AccessLogSummary | undefined): boolean {
  return !!summary && summary.s502 + summary.s504 > 0;
}
