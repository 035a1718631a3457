import { readFile } from 'node:fs/promises';
import { parseProcNetTcp, parseProcNetUnix } from './parse-proc-net.js';
import { parseSsUnix } from './parse-ss.js';
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
    for (const s of parseProcNetTcp(text)) {
      if (!inodes.has(s.inode)) continue;
      const state: SocketState = { inode: s.inode, proto: 'tcp', state: s.state, rx: s.rxQueue, tx: s.txQueue };
      if (s.local.port !== null) state.localPort = s.local.port;
      out.set(s.inode, state);
    }
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
