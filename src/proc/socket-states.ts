import { readFile } from 'node:fs/promises';
import { readConnections } from './connections.js';
import { readListenQueue, samePath } from './listen.js';
import { PROC_TCP_STATES, parseProcNetUnix } from './parse-proc-net.js';
import { parseSsState, parseSsTcp, parseSsUnix } from './parse-ss.js';
import { PROC_ROOT, assertLinux } from './platform.js';
import { resolveSocketReadOptions, runSs } from './ss.js';
import type { TcpState } from './types.js';

/** What one socket a process holds is doing, by its inode. */
export interface SocketState {
  inode: number;
  proto: 'tcp' | 'unix';
  /** TCP state; unix: ESTABLISHED (connected), LISTEN, or CLOSE (peer gone / unconnected). */
  state: TcpState;
  /**
   * Bytes (TCP) or skbs (unix, from ss) waiting either way: `rx` unread by the process, `tx` not yet
   * taken by the peer. `null` when unknown (unix sockets without ss).
   */
  rx: number | null;
  tx: number | null;
  /** TCP local port / unix bound path (accepted unix connections carry the listener's path). */
  localPort?: number;
  path?: string | null;
}

/**
 * The states of the sockets with these inodes, read the way the process sees them: TCP from
 * `/proc/PID/net/tcp{,6}` (the process's own network namespace, with rx/tx queues), unix from
 * `/proc/PID/net/unix`, with queues from one `ss -xan` when ss is installed (the kernel's unix
 * table has no queue columns). Inodes not found (UDP, netlink, another namespace's) are left out.
 * Never throws for an unreadable table: what could be read is returned.
 */
export async function readSocketStates(pid: number, inodes: ReadonlySet<number>): Promise<Map<number, SocketState>> {
  assertLinux();
  const out = new Map<number, SocketState>();
  if (inodes.size === 0) return out;
  for (const file of ['tcp', 'tcp6']) {
    const text = await readQuietly(`${PROC_ROOT}/${pid}/net/${file}`);
    if (text === undefined) continue;
    scanProcNetTcp(text, inodes, out);
  }
  const unixText = await readQuietly(`${PROC_ROOT}/${pid}/net/unix`);
  if (unixText !== undefined) {
    for (const s of parseProcNetUnix(unixText)) {
      if (!inodes.has(s.inode) || s.type !== 'stream') continue;
      const state: TcpState = s.listening ? 'LISTEN' : s.state === 'CONNECTED' ? 'ESTABLISHED' : 'CLOSE';
      out.set(s.inode, { inode: s.inode, proto: 'unix', state, rx: null, tx: null, path: s.path });
    }
    await addUnixQueues(out);
  }
  return out;
}

/**
 * The wanted inodes' lines of /proc/PID/net/tcp{,6}, with only the fields needed decoded (the
 * general parser decodes every address: 20× slower on a 10,000-socket table). Fields: `sl local
 * rem st tx:rx tr:when retrnsmt uid timeout inode`.
 */
export function scanProcNetTcp(text: string, inodes: ReadonlySet<number>, out: Map<number, SocketState>): void {
  let at = text.indexOf('\n') + 1; // header
  while (at > 0 && at < text.length) {
    const end = text.indexOf('\n', at);
    const line = text.slice(at, end === -1 ? text.length : end);
    at = end === -1 ? text.length : end + 1;
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const inode = Number(f[9]);
    if (!inodes.has(inode) || out.has(inode)) continue;
    const state = PROC_TCP_STATES[parseInt(f[3] ?? '', 16)];
    const queues = (f[4] ?? '').split(':');
    const port = parseInt((f[1] ?? '').split(':')[1] ?? '', 16);
    if (!state || queues.length !== 2) continue;
    const s: SocketState = { inode, proto: 'tcp', state, rx: parseInt(queues[1]!, 16), tx: parseInt(queues[0]!, 16) };
    if (port >= 0 && port <= 65535) s.localPort = port;
    out.set(inode, s);
  }
}

/** Unix queues from `ss -xan` (same namespace as ours only: inodes of another one are simply not found). */
async function addUnixQueues(states: Map<number, SocketState>): Promise<void> {
  if (![...states.values()].some((s) => s.proto === 'unix')) return;
  try {
    const resolved = resolveSocketReadOptions({});
    if (resolved.source !== 'ss' || !resolved.ssPath) return;
    for (const s of parseSsUnix(await runSs(resolved.ssPath, ['-xanH'], resolved.timeoutMs))) {
      const known = states.get(s.inode);
      if (!known || known.proto !== 'unix') continue;
      known.rx = s.recvQ;
      known.tx = s.sendQ;
    }
  } catch {
    // No queues: the states alone still say connected / listening.
  }
}

async function readQuietly(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A listener and its connections at one moment (one ss call), as {@link readSocketSnapshot} returns it. */
export interface SocketSnapshot {
  /** Listening sockets found on the target. */
  listeners: number;
  /** The fullest listener's accept queue and its backlog (null: none, or unknown without ss). */
  queue: number | null;
  backlog: number | null;
  /** Non-listening sockets by state. */
  states: Partial<Record<TcpState, number>>;
}

/**
 * One look at a TCP port or unix socket path with a single `ss` call (the flight recorder's sample
 * must cost little): the listener's queue and backlog and its connections by state. Falls back to
 * readListenSockets/readConnections' /proc path without ss (no backlog then).
 */
export async function readSocketSnapshot(target: { port: number } | { unixSocket: string }): Promise<SocketSnapshot> {
  assertLinux();
  const resolved = resolveSocketReadOptions({});
  const out: SocketSnapshot = { listeners: 0, queue: null, backlog: null, states: {} };
  const listener = (recvQ: number, sendQ: number): void => {
    out.listeners += 1;
    if (out.queue === null || recvQ > out.queue) {
      out.queue = recvQ;
      out.backlog = sendQ;
    }
  };
  if (resolved.source !== 'ss' || !resolved.ssPath) {
    const [q, c] = await Promise.all([readListenQueue(target, { owners: false }), readConnections(target)]);
    if (q) Object.assign(out, { listeners: q.listeners, queue: q.queue, backlog: q.backlog });
    for (const [s, n] of Object.entries(c.states)) if (n > 0) out.states[s as TcpState] = n;
    return out;
  }
  if ('unixSocket' in target) {
    for (const s of parseSsUnix(await runSs(resolved.ssPath, ['-xanH'], resolved.timeoutMs))) {
      if (s.type !== 'stream' || !samePath(s.path, target.unixSocket)) continue;
      if (s.state === 'LISTEN') listener(s.recvQ, s.sendQ);
      else {
        const state = parseSsState(s.state);
        if (state) out.states[state] = (out.states[state] ?? 0) + 1;
      }
    }
    return out;
  }
  for (const s of parseSsTcp(
    await runSs(resolved.ssPath, ['-tanH', `( sport = :${target.port} )`], resolved.timeoutMs),
  )) {
    if (s.local.port !== target.port) continue;
    if (s.state === 'LISTEN') listener(s.recvQ, s.sendQ);
    else out.states[s.state] = (out.states[s.state] ?? 0) + 1;
  }
  return out;
}
