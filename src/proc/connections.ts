import { badOption } from '../errors/index.js';
import { readProcTcp, samePath, validateTarget, type SocketTarget } from './listen.js';
import { parseProcNetUnix } from './parse-proc-net.js';
import { parseSsState, parseSsTcp, parseSsUnix } from './parse-ss.js';
import { PROC_ROOT, assertLinux, readProcFile } from './platform.js';
import { resolveSocketReadOptions, runSs, type ResolvedSocketReadOptions, type SocketReadOptions } from './ss.js';
import { TCP_STATES, type TcpState } from './types.js';

/** Options of {@link readConnections}. */
export interface ConnectionOptions extends SocketReadOptions {
  /** An ESTABLISHED TCP socket counts as idle when no data moved either way for this long. Default 1000 ms. */
  idleMs?: number;
}

/** Defaults of {@link ConnectionOptions} (beyond the socket-read ones). */
export const CONNECTION_DEFAULTS = { idleMs: 1000 } as const;

/** One non-listening TCP socket on the port, with its tcp_info timers (ss only). */
export interface ConnectionSocket {
  state: TcpState;
  /** Peer as `address:port` (`[v6]:port`). */
  peer: string;
  /** ms since data was last received on it; `null` when unknown (/proc, TIME_WAIT). */
  lastRecvMs: number | null;
  /** ms since data was last sent on it; `null` when unknown. */
  lastSendMs: number | null;
  /** min(lastRecvMs, lastSendMs): how long nothing has moved either way; `null` when unknown. */
  idleMs: number | null;
}

/** Connections on one local TCP port or unix socket path, as {@link readConnections} returns them. */
export interface ConnectionStats {
  kind: 'tcp' | 'unix';
  /** The target port (TCP). */
  port?: number;
  /** The target path (unix). */
  unixSocket?: string;
  source: 'ss' | 'proc';
  /**
   * Non-listening sockets by state; every state present (0 when none). For TCP, connections still in
   * the accept queue are already ESTABLISHED and counted here; unix ones are not (see `queued`).
   * For unix, ESTABLISHED = accepted connections on the path, CLOSE = accepted ones whose peer left.
   */
  states: Record<TcpState, number>;
  /** Sum of `states`. */
  total: number;
  /** Listening sockets on the target. */
  listeners: number;
  /** Connections waiting in the listeners' accept queues (sum); `null` with no listener or unknown. */
  queued: number | null;
  /** Idle ESTABLISHED TCP sockets (the keep-alive connections a proxy may reuse as they are closed). */
  idle: {
    /** The threshold used, ms. */
    thresholdMs: number;
    /** ESTABLISHED sockets idle ≥ thresholdMs; `null` when idle times are unknown (unix, no ss). */
    count: number | null;
    /** Longest idle time among ESTABLISHED sockets, ms; `null` when unknown or none. */
    maxMs: number | null;
  };
  /** Each non-listening TCP socket (empty for unix sockets: the kernel keeps no timers for them). */
  sockets: ConnectionSocket[];
}

/**
 * Sockets whose LOCAL end is the given TCP port (any address unless `host`) or unix socket path:
 * counts by state, accept-queue depth, and for TCP per-socket idle times from `ss -tnai`'s
 * `lastrcv`/`lastsnd` (ms), which doctor uses to spot idle keep-alive connections piling up.
 */
export async function readConnections(target: SocketTarget, options: ConnectionOptions = {}): Promise<ConnectionStats> {
  assertLinux();
  validateTarget(target);
  const idleMs = options.idleMs ?? CONNECTION_DEFAULTS.idleMs;
  if (!Number.isFinite(idleMs) || idleMs < 0) throw badOption('idleMs', idleMs, 'a number of ms ≥ 0');
  const resolved = resolveSocketReadOptions(options);
  if ('unixSocket' in target) {
    const tally = await tallyUnix(target.unixSocket, resolved);
    return finish({ kind: 'unix', unixSocket: target.unixSocket }, resolved.source, tally, idleMs, false);
  }
  const tally = await tallyTcp(target.port, target.host, resolved);
  return finish({ kind: 'tcp', port: target.port }, resolved.source, tally, idleMs, resolved.source === 'ss');
}

/** What one read of a target counts: its non-listening sockets by state, its listeners and their queues. */
interface Tally {
  states: Record<TcpState, number>;
  sockets: ConnectionSocket[];
  listeners: number;
  queued: number | null;
}

function createTally(): Tally {
  const states = Object.fromEntries(TCP_STATES.map((s) => [s, 0])) as Record<TcpState, number>;
  return { states, sockets: [], listeners: 0, queued: null };
}

/** A listening socket: one listener more, and `queue` connections more waiting (0 when unknown). */
function addListener(tally: Tally, queue: number): void {
  tally.listeners += 1;
  tally.queued = (tally.queued ?? 0) + queue;
}

/** Unix stream sockets on `path`, from `ss -xan` or /proc/net/unix. */
async function tallyUnix(path: string, resolved: ResolvedSocketReadOptions): Promise<Tally> {
  const tally = createTally();
  const { states } = tally;
  if (resolved.source === 'ss' && resolved.ssPath) {
    for (const s of parseSsUnix(await runSs(resolved.ssPath, ['-xanH'], resolved.timeoutMs))) {
      if (s.type !== 'stream' || !samePath(s.path, path)) continue;
      if (s.state === 'LISTEN') {
        addListener(tally, s.recvQ);
        continue;
      }
      const state = parseSsState(s.state);
      if (state) states[state] += 1;
    }
    return tally;
  }
  for (const s of parseProcNetUnix(await readProcFile(`${PROC_ROOT}/net/unix`))) {
    if (s.type !== 'stream' || !samePath(s.path, path)) continue;
    if (s.listening) {
      addListener(tally, 0); // /proc shows no queue on the listener: the waiting ones are counted below
    } else if (s.state === 'CONNECTING' && s.inode === 0) {
      tally.queued = (tally.queued ?? 0) + 1; // waiting in the accept queue: ss does not list these either
    } else if (s.state === 'CONNECTED') {
      states.ESTABLISHED += 1;
    } else {
      states.CLOSE += 1;
    }
  }
  return tally;
}

/** TCP sockets whose local end is `port` (on `host` when given), with their timers from `ss -tnai`. */
async function tallyTcp(port: number, host: string | undefined, resolved: ResolvedSocketReadOptions): Promise<Tally> {
  const tally = createTally();
  const { states, sockets } = tally;
  if (resolved.source === 'ss' && resolved.ssPath) {
    // One ss call for states and timers: a consistent snapshot. ss filters by port in the kernel.
    const text = await runSs(resolved.ssPath, ['-tnaiH', `( sport = :${port} )`], resolved.timeoutMs);
    for (const s of parseSsTcp(text)) {
      if (s.local.port !== port || (host !== undefined && s.local.address !== host)) continue;
      if (s.state === 'LISTEN') {
        addListener(tally, s.recvQ);
        continue;
      }
      states[s.state] += 1;
      const idle = s.lastRecvMs === null || s.lastSendMs === null ? null : Math.min(s.lastRecvMs, s.lastSendMs);
      sockets.push({
        state: s.state,
        peer: formatEndpoint(s.peer.address, s.peer.port),
        lastRecvMs: s.lastRecvMs,
        lastSendMs: s.lastSendMs,
        idleMs: idle,
      });
    }
    return tally;
  }
  for (const s of await readProcTcp()) {
    if (s.local.port !== port || (host !== undefined && s.local.address !== host)) continue;
    if (s.state === 'LISTEN') {
      addListener(tally, s.rxQueue);
      continue;
    }
    states[s.state] += 1;
    sockets.push({
      state: s.state,
      peer: formatEndpoint(s.remote.address, s.remote.port),
      lastRecvMs: null,
      lastSendMs: null,
      idleMs: null,
    });
  }
  return tally;
}

function finish(
  base: Pick<ConnectionStats, 'kind' | 'port' | 'unixSocket'>,
  source: 'ss' | 'proc',
  { states, sockets, listeners, queued }: Tally,
  thresholdMs: number,
  timersKnown: boolean,
): ConnectionStats {
  const total = Object.values(states).reduce((a, b) => a + b, 0);
  let count: number | null = null;
  let maxMs: number | null = null;
  if (timersKnown) {
    count = 0;
    for (const s of sockets) {
      if (s.state !== 'ESTABLISHED' || s.idleMs === null) continue;
      if (s.idleMs >= thresholdMs) count += 1;
      maxMs = Math.max(maxMs ?? 0, s.idleMs);
    }
  }
  return { ...base, source, states, total, listeners, queued, idle: { thresholdMs, count, maxMs }, sockets };
}

function formatEndpoint(address: string, port: number | null): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return `${host}:${port ?? '*'}`;
}
