import type { SocketState, TcpState } from '../proc/index.js';
import type { CountEntry } from './counter.js';

/**
 * What holds a process's fds: the question after "it is out of fds". Sockets by state (an idle
 * keep-alive connection and a CLOSE_WAIT socket are different bugs), the most common file targets
 * (a leak in the app's own code shows as `/dev/null × 40`), pipes and anon inodes. Plain JSON.
 */
export interface FdHolders {
  sockets: {
    /** TCP sockets by state (only states with sockets). */
    tcp: Partial<Record<TcpState, number>>;
    /** ESTABLISHED TCP sockets with nothing queued either way (Recv-Q 0, Send-Q 0) — at both samples when two were taken. */
    tcpQuiet: number;
    /** Connected unix stream sockets. */
    unixConnected: number;
    /** Connected unix sockets with nothing queued either way; null when unknown (no ss). */
    unixQuiet: number | null;
    unixListen: number;
    /** Sockets in neither table (UDP, netlink, another network namespace's). */
    other: number;
  };
  /** Most common regular-file and device targets, highest first (at most {@link MAX_TARGETS}). */
  files: CountEntry[];
  /** Distinct file/device targets (the list above may be cut). */
  distinctFiles: number;
  /** anon inodes by type (`[eventpoll]`, `[eventfd]`, `[timerfd]`), highest first. */
  anonInodes: CountEntry[];
  pipes: number;
  /** The quiet counts held across two samples this far apart, ms; null: one sample. */
  quietAcrossMs: number | null;
}

/** Targets listed per kind. */
export const MAX_TARGETS = 10;

/** Counts of fd link targets gathered while listing `/proc/PID/fd` (the one pass over it). */
export class FdTargetCounter {
  readonly files = new Map<string, number>();
  readonly anon = new Map<string, number>();
  pipes = 0;

  add(kind: string, target: string): void {
    if (kind === 'file' || kind === 'device') this.files.set(target, (this.files.get(target) ?? 0) + 1);
    else if (kind === 'anon_inode') {
      const type = target.slice('anon_inode:'.length);
      this.anon.set(type, (this.anon.get(type) ?? 0) + 1);
    } else if (kind === 'pipe') this.pipes += 1;
  }
}

function top(counts: ReadonlyMap<string, number>): CountEntry[] {
  return [...counts.entries()]
    .map(([name, count]) => ({ name, count }))
    .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .slice(0, MAX_TARGETS);
}

/** Inodes of sockets with nothing in flight: ESTABLISHED/connected, both queues 0. */
export function quietInodes(states: ReadonlyMap<number, SocketState>): Set<number> {
  const out = new Set<number>();
  for (const s of states.values()) if (s.state === 'ESTABLISHED' && s.rx === 0 && s.tx === 0) out.add(s.inode);
  return out;
}

/**
 * Summarises one process's fds. `earlierQuiet` (the quiet inodes of a sample `gapMs` earlier) makes
 * "quiet" mean quiet at both samples: a request being worked on can look quiet for an instant.
 */
export function summarizeHolders(
  socketInodes: ReadonlySet<number>,
  states: ReadonlyMap<number, SocketState>,
  targets: FdTargetCounter,
  earlier?: { quiet: ReadonlySet<number>; gapMs: number },
): FdHolders {
  const tcp: Partial<Record<TcpState, number>> = {};
  let tcpQuiet = 0;
  let unixConnected = 0;
  let unixQuiet: number | null = 0;
  let unixListen = 0;
  let other = 0;
  let unixQueuesKnown = false;
  const quietNow = (s: SocketState): boolean => s.rx === 0 && s.tx === 0 && (!earlier || earlier.quiet.has(s.inode));
  for (const inode of socketInodes) {
    const s = states.get(inode);
    if (!s) {
      other += 1;
      continue;
    }
    if (s.proto === 'tcp') {
      tcp[s.state] = (tcp[s.state] ?? 0) + 1;
      if (s.state === 'ESTABLISHED' && quietNow(s)) tcpQuiet += 1;
      continue;
    }
    if (s.state === 'LISTEN') unixListen += 1;
    else if (s.state === 'ESTABLISHED') {
      unixConnected += 1;
      if (s.rx !== null) unixQueuesKnown = true;
      if (quietNow(s)) unixQuiet += 1;
    } else other += 1;
  }
  if (unixConnected > 0 && !unixQueuesKnown) unixQuiet = null;
  return {
    sockets: { tcp, tcpQuiet, unixConnected, unixQuiet, unixListen, other },
    files: top(targets.files),
    distinctFiles: targets.files.size,
    anonInodes: top(targets.anon),
    pipes: targets.pipes,
    quietAcrossMs: earlier ? earlier.gapMs : null,
  };
}
