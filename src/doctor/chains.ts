import type { CauseId } from '../causes/index.js';
import type { ProcessFacts, TargetFacts } from './collectors.js';
import { createFinding, severityOf, type Finding, type Severity } from './findings.js';
import type { FdHolders } from './holders.js';
import type { DoctorOptions } from './options.js';
import { confirmValues, fdEvidence, pct, seconds, type LiveRule } from './rule-kit.js';

/*
 * Causal chains: a process out of fds is a symptom. What holds the fds names the cause an engineer
 * acts on — idle keep-alive connections (keepalive-leak), sockets the app never closed after the
 * peer did (close-wait-leak), or the app's own files, pipes and anon inodes (a leak in its code,
 * fd-exhaustion itself) — and the cause is ranked above its effect.
 */

/** A holder is the cause when it holds at least this share of the open fds. */
const DOMINANT_SHARE = 0.4;

/** Counts of the three kinds of holder that each point at one cause. */
interface HolderCounts {
  /** ESTABLISHED connections with nothing in flight (TCP and unix). */
  quiet: number;
  closeWait: number;
  /** Files, devices, pipes and anon inodes: the app's own code. */
  own: number;
}

function countHolders(p: ProcessFacts, h: FdHolders): HolderCounts {
  const k = p.fds.byKind;
  return {
    quiet: h.sockets.tcpQuiet + (h.sockets.unixQuiet ?? 0),
    closeWait: h.sockets.tcp.CLOSE_WAIT ?? 0,
    own: k.file + k.device + k.pipe + k.anon_inode,
  };
}

/** `/dev/null × 40, /var/log/app.log × 1` */
function targetList(h: FdHolders): string {
  const files = h.files.map((f) => `${f.name} × ${f.count}`);
  if (h.distinctFiles > h.files.length) files.push(`${h.distinctFiles - h.files.length} more files`);
  if (h.pipes > 0) files.push(`pipe × ${h.pipes}`);
  for (const a of h.anonInodes) files.push(`anon_inode:${a.name} × ${a.count}`);
  return files.join(', ');
}

/** One line: what every socket of the process is doing. */
function socketLine(h: FdHolders): string {
  const tcp = Object.entries(h.sockets.tcp)
    .sort((a, b) => b[1] - a[1])
    .map(([s, n]) => `${s} ${n}`);
  const parts = [
    tcp.length > 0 ? `TCP ${tcp.join(', ')} (${h.sockets.tcpQuiet} ESTABLISHED with nothing in flight)` : '',
    h.sockets.unixConnected + h.sockets.unixListen > 0
      ? `unix connected ${h.sockets.unixConnected}${h.sockets.unixQuiet === null ? '' : ` (${h.sockets.unixQuiet} with nothing in flight)`}, listening ${h.sockets.unixListen}`
      : '',
    h.sockets.other > 0 ? `other ${h.sockets.other}` : '',
  ].filter(Boolean);
  return `sockets: ${parts.join('; ') || 'none'}${h.quietAcrossMs === null ? '' : ` — "nothing in flight" held at two samples ${seconds(h.quietAcrossMs)} apart`}`;
}

/** The cause the holders point at, or undefined when none holds a clear share. */
function dominantHolder(c: HolderCounts, open: number): 'quiet' | 'closeWait' | 'own' | undefined {
  const ranked = (['quiet', 'closeWait', 'own'] as const).map((k) => [k, c[k]] as const).sort((a, b) => b[1] - a[1]);
  const [kind, n] = ranked[0]!;
  return n > 0 && n >= DOMINANT_SHARE * open ? kind : undefined;
}

/**
 * Open fds near the soft RLIMIT_NOFILE: accept() is about to fail (or fails) with EMFILE. With the
 * holders known, a socket leak is named as the cause (critical, first) and fd-exhaustion as its
 * effect; files and pipes make fd-exhaustion itself the cause, with the targets counted.
 */
export const fdChainRule: LiveRule = (target, _facts, options) => {
  const p = target.process;
  if (!p || !p.fds.soft) return [];
  const severity = severityOf(p.fds.ratio, { warning: options.fdWarningRatio, critical: options.fdCriticalRatio });
  if (!severity) return [];
  const h = p.holders;
  const counts = h ? countHolders(p, h) : undefined;
  const dominant = counts ? dominantHolder(counts, p.fds.open) : undefined;
  const holderEvidence = h ? [socketLine(h), ...(targetList(h) ? [`files and other fds: ${targetList(h)}`] : [])] : [];
  const base = `${p.fds.open} of ${p.fds.soft} fds in use (${pct(p.fds.ratio)}): ${severity === 'critical' ? 'accept() fails or is about to fail with EMFILE' : 'close to EMFILE'}`;
  const fdFinding = (extra: { summary?: string; evidence: string[]; causedBy?: CauseId[] }): Finding =>
    createFinding(
      'fd-exhaustion',
      {
        severity,
        source: 'live',
        target: target.label,
        summary: extra.summary ?? base,
        evidence: [...fdEvidence(target), ...extra.evidence, ...queuedEvidence(target)],
        ...(extra.causedBy ? { causedBy: extra.causedBy } : {}),
      },
      confirmValues(target),
    );
  if (!h || !counts) return [fdFinding({ evidence: [] })];
  if (dominant === 'own') {
    return [
      fdFinding({
        evidence: [
          `held by the app's own files, pipes and anon inodes (${counts.own} of ${p.fds.open}): ${targetList(h)} — opened and never closed: a leak in the app's code`,
          socketLine(h),
        ],
      }),
    ];
  }
  if (dominant === undefined) {
    return [
      fdFinding({
        evidence: [
          `no single holder stands out (quiet connections ${counts.quiet}, CLOSE_WAIT ${counts.closeWait}, files/pipes/anon inodes ${counts.own} of ${p.fds.open}): the facts do not single out one cause`,
          ...holderEvidence,
        ],
      }),
    ];
  }
  const cause: CauseId = dominant === 'quiet' ? 'keepalive-leak' : 'close-wait-leak';
  const n = dominant === 'quiet' ? counts.quiet : counts.closeWait;
  return [
    socketLeakFinding(target, cause, n, severity, holderEvidence, options),
    fdFinding({
      summary: `${base}; ${n} of them held by ${dominant === 'quiet' ? 'idle keep-alive connections' : 'CLOSE_WAIT sockets'} (${cause})`,
      evidence: holderEvidence,
      causedBy: [cause],
    }),
  ];
};

/** keepalive-leak or close-wait-leak as the root of an fd shortage: critical, with fd-exhaustion as its effect. */
function socketLeakFinding(
  target: TargetFacts,
  cause: CauseId,
  n: number,
  fdSeverity: Severity,
  holderEvidence: string[],
  options: DoctorOptions,
): Finding {
  const p = target.process!;
  const what =
    cause === 'keepalive-leak'
      ? `${n} of the ${p.fds.open} fds are keep-alive connections with nothing in flight (Recv-Q 0, Send-Q 0), whatever their age`
      : `${n} of the ${p.fds.open} fds are sockets in CLOSE_WAIT: the peer closed them and the app never did`;
  const listeners = target.listeners.map((l) => l.name);
  return createFinding(
    cause,
    {
      // The cause of a critical shortage is critical; near it (warning) the leak is still what to fix first.
      severity: fdSeverity === 'critical' || p.fds.ratio >= options.fdWarningRatio ? 'critical' : 'warning',
      source: 'live',
      target: target.label,
      summary: `${what}: they bring pid ${p.pid} to ${pct(p.fds.ratio)} of its fd limit (${p.fds.open}/${p.fds.soft})`,
      evidence: [
        what,
        ...holderEvidence,
        `effect: fd-exhaustion — ${p.fds.open} of ${p.fds.soft} fds in use (${pct(p.fds.ratio)}); new connections ${fdSeverity === 'critical' ? 'fail' : 'will soon fail'} with EMFILE${listeners.length > 0 ? ` on ${listeners.join(', ')}` : ''}`,
      ],
      causes: ['fd-exhaustion'],
    },
    confirmValues(target, target.listeners[0]),
  );
}

function queuedEvidence(target: TargetFacts): string[] {
  return target.listeners
    .filter((l) => (l.queue ?? 0) > 0)
    .map((l) => `${l.name}: ${l.queue} connections wait in the accept queue (backlog ${l.backlog ?? '?'})`);
}

/** A pile of CLOSE_WAIT sockets before any fd shortage: the same leak, caught early (warning). */
export const closeWaitRule: LiveRule = (target, _facts, options) => {
  const p = target.process;
  const h = p?.holders;
  if (!p || !h) return [];
  const closeWait = h.sockets.tcp.CLOSE_WAIT ?? 0;
  if (closeWait < Math.max(1, options.idleSocketsMin) || closeWait < 0.5 * p.fds.byKind.socket) return [];
  return [
    createFinding(
      'close-wait-leak',
      {
        severity: 'warning',
        source: 'live',
        target: target.label,
        summary: `${closeWait} sockets of pid ${p.pid} wait in CLOSE_WAIT: the peer closed them and the app never did`,
        evidence: [socketLine(h), ...fdEvidence(target)],
      },
      confirmValues(target, target.listeners[0]),
    ),
  ];
};
