import { resolve as resolvePath } from 'node:path';
import { BadgatewayError, ERROR_CODES, badOption } from '../errors/index.js';
import { findSocketOwners } from './owners.js';
import { parseProcNetTcp, parseProcNetUnix } from './parse-proc-net.js';
import { parseSsListen } from './parse-ss.js';
import { PROC_ROOT, assertLinux, readProcFile } from './platform.js';
import { resolveSocketReadOptions, runSs, type SocketReadOptions } from './ss.js';
import type { ListenKind, ListenSocket, ProcTcpSocket, SocketOwner } from './types.js';

/** Which listening sockets {@link readListenSockets} returns; every given field must match. */
export interface ListenFilter {
  /** One kind or several. */
  kind?: ListenKind | readonly ListenKind[];
  /** TCP port (implies TCP). */
  port?: number;
  /** Bound IP as printed (`127.0.0.1`, `::1`, `::`, `0.0.0.0`), with `port`. */
  host?: string;
  /** Unix socket path (implies unix); matched as given and as an absolute path. */
  unixSocket?: string;
  /** Owning process. */
  pid?: number;
}

/** Options of {@link readListenSockets} and {@link readListenQueue}. */
export interface ListenReadOptions extends SocketReadOptions {
  /**
   * Find the owning processes (`pid`, `fd`, `owners`). Costly on a busy machine: it readlink()s
   * every fd of every process (`ss -p` does the same): ~1 s here with one 20,000-fd process around,
   * against ~10 ms without. Pass `false` when sampling queues in a loop. Default `true`.
   */
  owners?: boolean;
}

/**
 * Listening TCP (IPv4/IPv6) and unix stream sockets of this network namespace with their accept
 * queue (`queue`, connections waiting for accept()) and `backlog` (its limit), plus the owning
 * process where visible. With ss (the default when installed) every field is known; from /proc
 * alone (`source: 'proc'` or no ss) `backlog` is `null`, and owners come from a bounded
 * `/proc/<pid>/fd` scan.
 */
export async function readListenSockets(
  filter: ListenFilter = {},
  options: ListenReadOptions = {},
): Promise<ListenSocket[]> {
  assertLinux();
  validateFilter(filter);
  const resolved = resolveSocketReadOptions(options);
  const wantOwners = options.owners ?? true;
  if (filter.pid !== undefined && !wantOwners) throw badOption('owners', false, 'true when filtering by pid');
  const kinds = wantedKinds(filter);
  const wantTcp = kinds.has('tcp') || kinds.has('tcp6');
  const wantUnix = kinds.has('unix');
  let sockets: ListenSocket[];
  if (resolved.source === 'ss' && resolved.ssPath) {
    const ssPath = resolved.ssPath;
    const [tcp, unix] = await Promise.all([
      wantTcp ? runSs(ssPath, [wantOwners ? '-ltnpeH' : '-ltneH'], resolved.timeoutMs) : '',
      wantUnix ? runSs(ssPath, [wantOwners ? '-lxpH' : '-lxH'], resolved.timeoutMs) : '',
    ]);
    sockets = parseSsListen(`${tcp}\n${unix}`).filter((s) => matches(s, filter, kinds));
  } else {
    sockets = (await readProcListen(wantTcp, wantUnix)).filter((s) => matches(s, { ...filter, pid: undefined }, kinds));
    const owners = wantOwners ? await findSocketOwners(sockets.map((s) => s.inode)) : new Map<number, SocketOwner[]>();
    for (const socket of sockets) {
      socket.owners = owners.get(socket.inode) ?? [];
      const first = socket.owners[0];
      if (first) {
        socket.pid = first.pid;
        socket.fd = first.fd;
      }
    }
    if (filter.pid !== undefined) sockets = sockets.filter((s) => matches(s, filter, kinds));
  }
  return sockets;
}

/** The accept queue of one listener, as {@link readListenQueue} returns it. */
export interface ListenQueue {
  /** Connections waiting for accept() now; a full queue reads `backlog + 1`. `null` when unknown. */
  queue: number | null;
  /** The queue's limit (listen() backlog capped by somaxconn); `null` without ss. */
  backlog: number | null;
  /** Owning process, when visible (and `owners` is not `false`). */
  pid?: number;
  /** How many listeners matched (IPv4 + IPv6, SO_REUSEPORT); the fullest one is reported. */
  listeners: number;
}

/** What {@link readListenQueue} and `readConnections` look at: a TCP port (optionally one address) or a unix socket. */
export type SocketTarget = { port: number; host?: string } | { unixSocket: string };

/**
 * Accept queue of the listener on a TCP port or unix socket path, or `undefined` when nothing
 * listens there. With several listeners (e.g. `0.0.0.0` and `::`, or SO_REUSEPORT) the fullest is
 * reported: a full queue anywhere is what makes a proxy's connect() fail.
 */
export async function readListenQueue(
  target: SocketTarget,
  options: ListenReadOptions = {},
): Promise<ListenQueue | undefined> {
  validateTarget(target);
  const filter: ListenFilter =
    'unixSocket' in target
      ? { unixSocket: target.unixSocket }
      : target.host === undefined
        ? { port: target.port }
        : { port: target.port, host: target.host };
  const sockets = await readListenSockets(filter, options);
  let fullest: ListenSocket | undefined;
  for (const socket of sockets) {
    if (!fullest || fill(socket) > fill(fullest)) fullest = socket;
  }
  if (!fullest) return undefined;
  const result: ListenQueue = { queue: fullest.queue, backlog: fullest.backlog, listeners: sockets.length };
  if (fullest.pid !== undefined) result.pid = fullest.pid;
  return result;
}

function fill(socket: ListenSocket): number {
  if (socket.queue === null) return -1;
  return socket.backlog ? socket.queue / socket.backlog : socket.queue;
}

/** Reads /proc/net/tcp{,6} and /proc/net/unix into listeners (backlog unknown, no owners yet). */
async function readProcListen(wantTcp: boolean, wantUnix: boolean): Promise<ListenSocket[]> {
  const sockets: ListenSocket[] = [];
  if (wantTcp) {
    for (const socket of await readProcTcp()) {
      if (socket.state !== 'LISTEN' || socket.local.port === null) continue;
      sockets.push({
        kind: socket.kind,
        address: socket.local.address,
        port: socket.local.port,
        inode: socket.inode,
        // For listeners the kernel prints sk_ack_backlog (the accept-queue depth) as rx_queue.
        queue: socket.rxQueue,
        backlog: null,
        owners: [],
        source: 'proc',
      });
    }
  }
  if (wantUnix) {
    const unix = parseProcNetUnix(await readProcFile(`${PROC_ROOT}/net/unix`));
    // A connection waiting in a unix accept queue is listed on its own: CONNECTING, no inode yet,
    // carrying the listener's path. Counting them gives the queue depth ss reads as Recv-Q.
    const queued = new Map<string, number>();
    for (const s of unix) {
      if (s.type === 'stream' && s.state === 'CONNECTING' && s.inode === 0 && s.path !== null) {
        queued.set(s.path, (queued.get(s.path) ?? 0) + 1);
      }
    }
    for (const s of unix) {
      if (s.type !== 'stream' || !s.listening || s.path === null) continue;
      sockets.push({
        kind: 'unix',
        address: s.path,
        path: s.path,
        inode: s.inode,
        queue: queued.get(s.path) ?? 0,
        backlog: null,
        owners: [],
        source: 'proc',
      });
    }
  }
  return sockets;
}

/** /proc/net/tcp plus /proc/net/tcp6 (absent when IPv6 is off: then IPv4 only). */
export async function readProcTcp(): Promise<ProcTcpSocket[]> {
  const tcp = parseProcNetTcp(await readProcFile(`${PROC_ROOT}/net/tcp`));
  let tcp6: ProcTcpSocket[] = [];
  try {
    tcp6 = parseProcNetTcp(await readProcFile(`${PROC_ROOT}/net/tcp6`));
  } catch (err) {
    if (!(err instanceof BadgatewayError && err.code === ERROR_CODES.UNSUPPORTED_PLATFORM)) throw err;
  }
  return [...tcp, ...tcp6];
}

function wantedKinds(filter: ListenFilter): Set<ListenKind> {
  let kinds = new Set<ListenKind>(
    filter.kind === undefined ? ['tcp', 'tcp6', 'unix'] : typeof filter.kind === 'string' ? [filter.kind] : filter.kind,
  );
  if (filter.port !== undefined || filter.host !== undefined) kinds = new Set([...kinds].filter((k) => k !== 'unix'));
  if (filter.unixSocket !== undefined) kinds = new Set([...kinds].filter((k) => k === 'unix'));
  return kinds;
}

function matches(socket: ListenSocket, filter: ListenFilter, kinds: ReadonlySet<ListenKind>): boolean {
  if (!kinds.has(socket.kind)) return false;
  if (filter.port !== undefined && socket.port !== filter.port) return false;
  if (filter.host !== undefined && socket.address !== filter.host) return false;
  if (filter.unixSocket !== undefined && !samePath(socket.path, filter.unixSocket)) return false;
  if (filter.pid !== undefined && !socket.owners.some((o) => o.pid === filter.pid)) return false;
  return true;
}

/** A socket path as the kernel holds it (as bound, maybe relative) against a user-given path. */
export function samePath(bound: string | null | undefined, wanted: string): boolean {
  if (bound === null || bound === undefined) return false;
  if (bound === wanted) return true;
  return !bound.startsWith('@') && !wanted.startsWith('@') && resolvePath(bound) === resolvePath(wanted);
}

/** Checks a {@link SocketTarget}: a port in 1..65535 or a non-empty unix socket path. */
export function validateTarget(target: SocketTarget): void {
  if (typeof target !== 'object' || target === null) throw badOption('target', target, '{ port } or { unixSocket }');
  if ('unixSocket' in target) {
    if (typeof target.unixSocket !== 'string' || target.unixSocket === '')
      throw badOption('unixSocket', target.unixSocket, 'a socket path');
  } else {
    validatePort(target.port);
  }
}

function validatePort(port: unknown): void {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
    throw badOption('port', port, 'an integer 1..65535');
}

function validateFilter(filter: ListenFilter): void {
  if (filter.port !== undefined) validatePort(filter.port);
  if (filter.unixSocket !== undefined && (typeof filter.unixSocket !== 'string' || filter.unixSocket === '')) {
    throw badOption('unixSocket', filter.unixSocket, 'a socket path');
  }
  if (filter.pid !== undefined && (!Number.isSafeInteger(filter.pid) || filter.pid <= 0))
    throw badOption('pid', filter.pid, 'a positive integer');
}
