import type { CauseId } from '../causes/index.js';
import type { AccessLogSummary } from './access-log.js';
import type { DoctorFacts, ListenerFacts } from './collectors.js';
import { createFinding, severityOf, type Finding, type Severity } from './findings.js';
import { closeWaitRule, fdChainRule } from './chains.js';
import { NO_PROXY_CONTEXT, type ProxyContext } from './proxy-context.js';
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
        : [
            `${where}: ${idle} ESTABLISHED connections idle ≥ ${seconds(c.idleMs)} (longest ${c.maxIdleMs === null ? '?' : seconds(c.maxIdleMs)}), ${c.states.ESTABLISHED ?? 0} established in all`,
          ];
    if (p)
      evidence.push(
        `they hold ${idle} of the ${p.fds.open} fds of pid ${p.pid} (${p.fds.byKind.socket} sockets), soft limit ${p.fds.soft ?? 'unlimited'}`,
      );
    if (l.keepAlive && l.keepAlive.status !== null && l.keepAlive.keepAliveTimeoutS === null) {
      evidence.push(
        `${l.keepAlive.url} keeps connections alive without announcing an idle timeout (no Keep-Alive: timeout=)`,
      );
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
    if (l.kind === 'unix')
      evidence.push('unix sockets do not count in TcpExt ListenOverflows: connect() fails at once with EAGAIN (502)');
    // One helper for every finding of this listener: the cause (unix or TCP backlog), target and confirm commands are its.
    const report = (level: Severity, summary: string, more: string[]): void => {
      out.push(
        createFinding(
          backlogCause(l),
          { severity: level, source: 'live', target: target.label, summary, evidence: more },
          confirmValues(target, l),
        ),
      );
    };
    const warn = (summary: string, more: string[]): void => report('warning', summary, more);
    if (severity) {
      const summary =
        severity === 'critical'
          ? `accept queue of ${l.name} is full (${l.queue}/${l.backlog})`
          : `accept queue of ${l.name} is ${pct(fill)} full (${l.queue}/${l.backlog})`;
      report(severity, summary, [...evidence, ...fdEvidence(target)]);
      continue;
    }
    if (options.burst > 0 && l.backlog < options.burst) {
      warn(`backlog ${l.backlog} of ${l.name} cannot hold a burst of ${options.burst} connections`, [
        `expected burst ${options.burst} (--burst) > backlog ${l.backlog}`,
        ...evidence,
      ]);
      continue;
    }
    const s = facts.machine.somaxconn;
    if (options.minBacklog > 0 && l.backlog < options.minBacklog && s !== null && s > l.backlog) {
      const refused = l.kind === 'unix' ? 'refused at once (EAGAIN: 502)' : 'dropped (SYNs: connect timeouts, 504)';
      warn(
        `backlog ${l.backlog} of ${l.name} is below ${options.minBacklog} while net.core.somaxconn allows ${s}: any burst above ${l.backlog} waiting connections is ${refused}`,
        [
          ...evidence,
          `listen() asked for ${l.backlog} (the kernel would allow up to ${s}): the app's own setting, e.g. gunicorn --backlog, listen(backlog)`,
        ],
      );
      continue;
    }
    if (s !== null && l.backlog === s && s < options.minSomaxconn) {
      warn(`net.core.somaxconn ${s} caps the backlog of ${l.name}`, [
        ...somaxconnEvidence(l, facts),
        `somaxconn below ${options.minSomaxconn} cuts the usual backlogs (gunicorn 2048, Node 511)`,
      ]);
    }
  }
  return out;
};

/**
 * Upstream keep-alive timeout not longer than the proxy's idle timeout for pooled connections: the
 * pool's `keepalive_timeout` from the proxy config, else `--proxy-idle-timeout`. Never without a
 * pool: a proxy that does not reuse connections cannot race.
 */
const keepAliveRaceRule: LiveRule = (target, _facts, options) => {
  const out: Finding[] = [];
  for (const l of target.listeners) {
    const probe = l.keepAlive;
    const pool = l.proxyPool;
    const proxyIdleMs = pool ? pool.keepaliveTimeoutMs : options.proxyIdleTimeoutMs;
    if (!probe || probe.keepAliveTimeoutS === null || proxyIdleMs <= 0) continue;
    const upstreamMs = probe.keepAliveTimeoutS * 1000;
    if (upstreamMs > proxyIdleMs) continue;
    out.push(
      createFinding(
        'keepalive-race',
        {
          severity: 'warning',
          source: 'live',
          target: target.label,
          summary: `upstream keep-alive timeout ${seconds(upstreamMs)} ≤ proxy idle timeout ${seconds(proxyIdleMs)}: it closes pooled connections the proxy may reuse`,
          evidence: [
            `${probe.url} answers Keep-Alive: timeout=${probe.keepAliveTimeoutS}${target.process?.command ? ` (${target.process.command})` : ''}`,
            pool
              ? `the proxy pools idle connections to it: upstream ${pool.upstream}, keepalive ${pool.keepalive}, keepalive_timeout ${seconds(pool.keepaliveTimeoutMs)} (${pool.source})`
              : `proxy idle timeout for upstream connections ${seconds(options.proxyIdleTimeoutMs)} (--proxy-idle-timeout)`,
          ],
        },
        confirmValues(target, l),
      ),
    );
  }
  return out;
};

/**
 * The proxy's workers may not connect() to the unix socket: mode, owner, group, supplementary
 * groups and the directories' search bits, checked as the kernel does (see proc/socket-access.ts).
 */
const socketPermissionRule: LiveRule = (target) => {
  const checks = [...(target.proxyAccess ?? []), ...target.listeners.flatMap((l) => l.proxyAccess ?? [])];
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const { identity, access } of checks) {
    const key = `${access.path}\0${identity.uid}`;
    if (access.allowed || !access.denied || seen.has(key)) continue;
    seen.add(key);
    const who = `${identity.user ?? `uid ${identity.uid}`} (uid ${identity.uid}, gid ${identity.gid}${identity.groups.length > 0 ? `, groups ${identity.groups.join(',')}` : ''})`;
    const sock = access.socket;
    const d = access.denied;
    const group = identity.group ?? String(identity.gid);
    const fixFirst =
      d.need === 'write'
        ? [
            `chown :${group} ${access.path} && chmod 660 ${access.path} — and at the app's start: gunicorn --umask 007 --group ${group} (Node: fs.chmod after listen)`,
          ]
        : [`chmod o+x ${d.path} (or give ${identity.user ?? identity.uid} a group with search permission on it)`];
    out.push(
      createFinding(
        'socket-permission',
        {
          severity: 'critical',
          source: 'live',
          target: target.label,
          summary: `the proxy's workers (${identity.user ?? `uid ${identity.uid}`}) cannot connect to unix:${access.path}${sock ? ` (${sock.mode} ${sock.owner} ${sock.group})` : ''}: every request to it is a 502 (13: Permission denied)`,
          evidence: [
            `workers run as ${who}, from ${identity.from}`,
            ...(sock ? [`${access.path}: ${sock.mode} ${sock.owner} ${sock.group}`] : []),
            ...(d.path !== access.path ? [`${d.path}: ${d.mode} ${d.owner} ${d.group}`] : []),
            `${d.why}: connect() needs write on the socket and search on every directory above it`,
          ],
          fixFirst,
        },
        confirmValues(target),
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
  return [
    createFinding(
      'upstream-down',
      { severity: 'critical', source: 'live', target: target.label, summary: what, evidence: [what] },
      confirmValues(target),
    ),
  ];
};

// The chain rule runs before the idle rule: when both name keepalive-leak for one process, the
// merged finding keeps the chain's summary (the first of two equally severe findings).
const LIVE_RULES: readonly LiveRule[] = [
  downRule,
  socketPermissionRule,
  fdChainRule,
  closeWaitRule,
  idleRule,
  queueRule,
  keepAliveRaceRule,
];

/**
 * worker_connections above the fds a worker may open: a busy worker runs out of fds ((24: Too many
 * open files), 500 or no answer) before it runs out of connections. The limit is
 * worker_rlimit_nofile, else what the running workers have.
 */
function proxyLimitFindings(proxy: ProxyContext): Finding[] {
  const out: Finding[] = [];
  for (const c of proxy.configs) {
    const running = c.workers.map((w) => w.fdSoft).filter((n) => n !== null);
    const limit = c.workerRlimitNofile ?? (running.length > 0 ? Math.min(...running) : null);
    if (limit === null || c.workerConnections <= limit) continue;
    const where = c.masterPid !== null ? `nginx (pid ${c.masterPid})` : c.source;
    out.push(
      createFinding('proxy-fd-exhaustion', {
        severity: 'warning',
        source: 'live',
        target: where,
        summary: `worker_connections ${c.workerConnections} is above the ${limit} fds a worker may open: under load a worker fails with (24: Too many open files) before it runs out of connections`,
        evidence: [
          `worker_connections ${c.workerConnections} (${c.source})`,
          c.workerRlimitNofile !== null
            ? `worker_rlimit_nofile ${c.workerRlimitNofile}`
            : `no worker_rlimit_nofile: the workers keep the limit they inherit, soft ${limit} (/proc/${c.workers[0]?.pid ?? 'PID'}/limits)`,
          'each proxied request holds two connections (client and upstream), each an fd',
        ],
        fixFirst: [
          `worker_rlimit_nofile ${Math.max(2 * c.workerConnections, 1024)}; (at least twice worker_connections)`,
        ],
      }),
    );
  }
  return out;
}

/** TCP listen overflows between the two samples: SYNs dropped at a full accept queue somewhere. */
function overflowFindings(facts: DoctorFacts): Finding[] {
  const n = facts.machine.netstat;
  if (!n || (n.listenOverflows.delta <= 0 && n.listenDrops.delta <= 0)) return [];
  const full = facts.targets.flatMap((t) =>
    t.listeners
      .filter((l) => l.kind !== 'unix' && (l.queue ?? 0) > 0)
      .map((l) => `${l.name} (${t.label}): ${l.queue} queued, backlog ${l.backlog ?? '?'}`),
  );
  return [
    createFinding('backlog-overflow-tcp', {
      severity: 'critical',
      source: 'live',
      target: 'machine',
      summary: `TcpExt ListenOverflows +${n.listenOverflows.delta}, ListenDrops +${n.listenDrops.delta} in ${seconds(n.intervalMs)}: a TCP accept queue overflows`,
      evidence: [
        `/proc/net/netstat TcpExt ListenOverflows ${n.listenOverflows.before} → ${n.listenOverflows.after}, ListenDrops ${n.listenDrops.before} → ${n.listenDrops.after} (machine-wide)`,
        ...(full.length > 0
          ? full.map((f) => `listener with a queue: ${f}`)
          : [
              'no inspected listener has a queue now: the overflowing one may be elsewhere (doctor with no target scans all)',
            ]),
      ],
    }),
  ];
}

/**
 * Runs every live rule on every target, plus the machine-wide counter rule. One finding per cause and
 * process: `--pid N --unix-socket PATH` of the same process see the same fds, so their findings merge.
 */
export function evaluateLiveRules(
  facts: DoctorFacts,
  options: DoctorOptions,
  proxy: ProxyContext = NO_PROXY_CONTEXT,
): Finding[] {
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
  return [...byKey.values(), ...overflowFindings(facts), ...proxyLimitFindings(proxy)];
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

/** Access-log 502/504 are symptoms without a cause: they never make a finding alone (see the verdict). */
export function accessLogHas5xx(summary: AccessLogSummary | undefined): boolean {
  return !!summary && summary.s502 + summary.s504 > 0;
}
