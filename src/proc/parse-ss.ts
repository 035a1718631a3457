/**
 * Parsers for the `ss` (iproute2) output badgateway relies on. Pure functions of the text: lines they
 * do not understand are skipped, never thrown on, so a newer ss with extra columns degrades to fewer
 * facts instead of a crash. Formats verified with ss 6.1 (iproute2-6.1.0, Debian 12):
 *
 *     $ ss -ltnpeH
 *     LISTEN 0      7      127.0.0.1:45437 0.0.0.0:* users:(("node",pid=7691,fd=19)) ino:9733 sk:3 cgroup:/ <->
 *     LISTEN 0      11             *:40787       *:* users:(("node",pid=8012,fd=19)) ino:12660 sk:1002 cgroup:/ v6only:0 <->
 *     $ ss -lxpH
 *     u_str LISTEN 5      4      /tmp/procx/s.sock 9744 * 0 users:(("node",pid=7702,fd=18))
 *     $ ss -tnaiH '( sport = :40787 )'
 *     ESTAB      0      0      [::ffff:127.0.0.1]:40787 [::ffff:127.0.0.1]:38640
 *     	 bbr wscale:10,10 rto:204 … lastsnd:648 lastrcv:644 lastack:644 …
 *
 * For LISTEN sockets Recv-Q is the accept-queue depth and Send-Q the backlog (netlink sock_diag's
 * idiag_rqueue/idiag_wqueue), for TCP and unix alike.
 */
import type { Endpoint, ListenSocket, SocketOwner, SsTcpSocket, SsUnixSocket, TcpState } from './types.js';

const SS_TCP_STATES: Readonly<Record<string, TcpState>> = {
  ESTAB: 'ESTABLISHED',
  'SYN-SENT': 'SYN_SENT',
  'SYN-RECV': 'SYN_RECV',
  'FIN-WAIT-1': 'FIN_WAIT1',
  'FIN-WAIT-2': 'FIN_WAIT2',
  'TIME-WAIT': 'TIME_WAIT',
  UNCONN: 'CLOSE',
  'CLOSE-WAIT': 'CLOSE_WAIT',
  'LAST-ACK': 'LAST_ACK',
  LISTEN: 'LISTEN',
  CLOSING: 'CLOSING',
};

/** Maps an ss state name (`ESTAB`, `TIME-WAIT`) to the kernel's (`ESTABLISHED`, `TIME_WAIT`). */
export function parseSsState(name: string): TcpState | undefined {
  return SS_TCP_STATES[name];
}

const UNIX_NETIDS: Readonly<Record<string, SsUnixSocket['type']>> = {
  u_str: 'stream',
  u_seq: 'seqpacket',
  u_dgr: 'dgram',
};

/**
 * Splits an ss endpoint: `127.0.0.1:80`, `[::1]:80`, `*:80` (dual-stack any: address `::`),
 * `[::ffff:127.0.0.1]:80`, `127.0.0.53%lo:53` (interface dropped), `0.0.0.0:*`.
 */
export function parseSsEndpoint(text: string): Endpoint | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]*)\]|([0-9.]+|\*))(?:%[^:\s]+)?:(\d{1,5}|\*)$/.exec(text);
  if (!m) return undefined;
  const address = m[1] ?? (m[2] === '*' ? '::' : m[2]);
  if (address === undefined) return undefined;
  const port = m[3] === '*' ? null : Number(m[3]);
  if (port !== null && port > 65535) return undefined;
  return { address, port };
}

/** The processes of a `users:(("nginx",pid=7791,fd=5),("nginx",pid=7789,fd=5))` column. */
export function parseSsUsers(text: string): SocketOwner[] {
  const owners: SocketOwner[] = [];
  const users = /users:\((.*)\)/.exec(text);
  if (!users?.[1]) return owners;
  for (const m of users[1].matchAll(/\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)/g)) {
    owners.push({ command: m[1] ?? '', pid: Number(m[2]), fd: Number(m[3]) });
  }
  return owners;
}

const INT = /^\d+$/;

/**
 * Parses unix socket lines of `ss -x[a|l][p]H` (`u_str ESTAB 0 0 /path 12669 * 12663 users:(…)`).
 * Paths may contain spaces; the inode columns anchor the split.
 */
export function parseSsUnix(text: string): SsUnixSocket[] {
  const sockets: SsUnixSocket[] = [];
  for (const line of text.split('\n')) {
    const socket = parseSsUnixLine(line);
    if (socket) sockets.push(socket);
  }
  return sockets;
}

function parseSsUnixLine(line: string): SsUnixSocket | undefined {
  const m = /^(u_str|u_seq|u_dgr)\s+(\S+)\s+(\d+)\s+(\d+)\s+(.*?)\s+(\d+)\s+(\S.*?)\s+(\d+)(?:\s+(.*))?$/.exec(
    line.trim(),
  );
  if (!m) return undefined;
  const [, netid, state, recvQ, sendQ, local, inode, peer, peerInode, rest] = m;
  const type = UNIX_NETIDS[netid ?? ''];
  if (!type || !state || !local || !peer) return undefined;
  return {
    type,
    state,
    recvQ: Number(recvQ),
    sendQ: Number(sendQ),
    path: local === '*' ? null : local,
    inode: Number(inode),
    peerPath: peer === '*' ? null : peer,
    peerInode: Number(peerInode),
    owners: rest ? parseSsUsers(rest) : [],
  };
}

/**
 * Listening sockets from `ss -ltnpeH` (TCP; `ino:` needs `-e`) and/or `ss -lxpH` (unix) output, in
 * line order; the optional netid column (`tcp`, `u_str`) is accepted. Only stream listeners (TCP,
 * `u_str`) are kept. Don't feed it unix lines from `ss -xe`: its `ino:` there is the socket file's.
 */
export function parseSsListen(text: string): ListenSocket[] {
  const sockets: ListenSocket[] = [];
  for (const raw of text.split('\n')) {
    const unix = parseSsUnixLine(raw);
    if (unix) {
      if (unix.type === 'stream' && unix.state === 'LISTEN' && unix.path !== null) {
        sockets.push(
          listenSocket('unix', unix.path, undefined, unix.path, unix.inode, unix.recvQ, unix.sendQ, unix.owners),
        );
      }
      continue;
    }
    const tokens = raw.trim().split(/\s+/);
    if (tokens[0] === 'tcp') tokens.shift();
    const [state, recvQ, sendQ, local, peer] = tokens;
    if (state !== 'LISTEN' || !recvQ || !sendQ || !INT.test(recvQ) || !INT.test(sendQ) || !local || !peer) continue;
    const endpoint = parseSsEndpoint(local);
    if (!endpoint || endpoint.port === null || !parseSsEndpoint(peer)) continue;
    const ino = /(?:^|\s)ino:(\d+)(?:\s|$)/.exec(raw);
    // ss prints IPv6 bracketed and the dual-stack any address as `*`; IPv4 never has a colon.
    const kind = endpoint.address.includes(':') ? 'tcp6' : 'tcp';
    sockets.push(
      listenSocket(
        kind,
        endpoint.address,
        endpoint.port,
        undefined,
        ino ? Number(ino[1]) : 0,
        Number(recvQ),
        Number(sendQ),
        parseSsUsers(raw),
      ),
    );
  }
  return sockets;
}

function listenSocket(
  kind: ListenSocket['kind'],
  address: string,
  port: number | undefined,
  path: string | undefined,
  inode: number,
  queue: number,
  backlog: number,
  owners: SocketOwner[],
): ListenSocket {
  const socket: ListenSocket = { kind, address, inode, queue, backlog, owners, source: 'ss' };
  if (port !== undefined) socket.port = port;
  if (path !== undefined) socket.path = path;
  const first = owners[0];
  if (first) {
    socket.pid = first.pid;
    socket.fd = first.fd;
  }
  return socket;
}

/**
 * TCP sockets from `ss -tnaiH [filter]`: one line per socket (with the State column), followed by
 * an indented tcp_info line when `-i` is given. ss omits `lastsnd`/`lastrcv`/`lastack` when they
 * are 0, so an info line without them means 0, while no info line at all (TIME-WAIT) means `null`.
 */
export function parseSsTcp(text: string): SsTcpSocket[] {
  const sockets: SsTcpSocket[] = [];
  let current: SsTcpSocket | undefined;
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    if (/^\s/.test(raw)) {
      if (current && current.lastRecvMs === null) {
        current.lastSendMs = infoField(raw, 'lastsnd');
        current.lastRecvMs = infoField(raw, 'lastrcv');
        current.lastAckMs = infoField(raw, 'lastack');
      }
      continue;
    }
    current = undefined;
    const tokens = raw.trim().split(/\s+/);
    if (tokens[0] === 'tcp') tokens.shift();
    const [stateName, recvQ, sendQ, local, peer] = tokens;
    const state = parseSsState(stateName ?? '');
    if (!state || !recvQ || !sendQ || !INT.test(recvQ) || !INT.test(sendQ)) continue;
    const localEndpoint = parseSsEndpoint(local ?? '');
    const peerEndpoint = parseSsEndpoint(peer ?? '');
    if (!localEndpoint || !peerEndpoint) continue;
    current = {
      state,
      recvQ: Number(recvQ),
      sendQ: Number(sendQ),
      local: localEndpoint,
      peer: peerEndpoint,
      lastSendMs: null,
      lastRecvMs: null,
      lastAckMs: null,
    };
    sockets.push(current);
  }
  return sockets;
}

/** A `name:NUMBER` field of a tcp_info line; 0 when absent (ss prints these only when non-zero). */
function infoField(line: string, name: string): number {
  const m = new RegExp(`(?:^|\\s)${name}:(\\d+)(?:\\s|$)`).exec(line);
  return m ? Number(m[1]) : 0;
}
