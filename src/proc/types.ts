/** Plain-data types shared by the socket readers and parsers. */

/** TCP states by their kernel names (`include/net/tcp_states.h`); ss's `ESTAB`, `TIME-WAIT`… map onto these. */
export type TcpState =
  | 'ESTABLISHED'
  | 'SYN_SENT'
  | 'SYN_RECV'
  | 'FIN_WAIT1'
  | 'FIN_WAIT2'
  | 'TIME_WAIT'
  | 'CLOSE'
  | 'CLOSE_WAIT'
  | 'LAST_ACK'
  | 'LISTEN'
  | 'CLOSING';

/** Every {@link TcpState}, in kernel order (handy for zero-filled count records). */
export const TCP_STATES: readonly TcpState[] = [
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
];

/** A process holding a socket open (one socket can be shared by forked workers). */
export interface SocketOwner {
  pid: number;
  /** The fd number in that process. */
  fd: number;
  /** Command name (`comm`), when known. */
  command?: string;
}

/** Kind of a listening socket: IPv4 TCP, IPv6 TCP (incl. dual-stack `::`), or a unix stream socket. */
export type ListenKind = 'tcp' | 'tcp6' | 'unix';

/** One listening socket with its accept queue. */
export interface ListenSocket {
  kind: ListenKind;
  /**
   * Bound address: an IP (`127.0.0.1`, `::1`, `::` for dual-stack any, `0.0.0.0`) for TCP, the
   * socket path for unix (`@name` for abstract sockets, as ss prints them).
   */
  address: string;
  /** TCP port. Absent for unix. */
  port?: number;
  /** Unix socket path. Absent for TCP. */
  path?: string;
  /** Socket inode (the `socket:[N]` in `/proc/<pid>/fd`). */
  inode: number;
  /**
   * Connections waiting in the accept queue now (established, not yet accepted). `null` when the
   * source cannot tell. A full queue reads backlog + 1 on Linux (the check is `>`, not `>=`).
   */
  queue: number | null;
  /** The accept-queue limit: `listen()`'s backlog capped by `net.core.somaxconn`. `null` without ss. */
  backlog: number | null;
  /** First owning process, when visible to us. */
  pid?: number;
  /** Its fd for this socket. */
  fd?: number;
  /** Every process holding the socket (empty when not visible — other users' processes without root — or not asked for). */
  owners: SocketOwner[];
  /** Where the facts came from. */
  source: 'ss' | 'proc';
}

/** An IP endpoint as ss prints it, split: `address` without brackets, `port` a number (`null` for `*`). */
export interface Endpoint {
  address: string;
  port: number | null;
}

/** One TCP socket from `ss -tnai` (with its tcp_info timers when ss printed them). */
export interface SsTcpSocket {
  state: TcpState;
  /** Bytes in the receive queue (for LISTEN: accept-queue depth). */
  recvQ: number;
  /** Bytes in the send queue (for LISTEN: the backlog). */
  sendQ: number;
  local: Endpoint;
  peer: Endpoint;
  /** ms since data was last sent (`lastsnd`; 0 when ss omits it). `null` without an info line. */
  lastSendMs: number | null;
  /** ms since data was last received (`lastrcv`; 0 when ss omits it). `null` without an info line. */
  lastRecvMs: number | null;
  /** ms since the last ACK was received (`lastack`; 0 when ss omits it). `null` without an info line. */
  lastAckMs: number | null;
}

/** Unix socket state as `ss -x` names it. */
export type UnixState = 'LISTEN' | 'ESTAB' | 'UNCONN' | 'SYN-SENT' | 'CLOSE-WAIT' | string;

/** One unix socket line from `ss -x` (`u_str`, `u_seq`, `u_dgr`). */
export interface SsUnixSocket {
  type: 'stream' | 'seqpacket' | 'dgram';
  state: UnixState;
  recvQ: number;
  sendQ: number;
  /** Bound path (`@…` abstract), `null` for an unbound socket (`*`). */
  path: string | null;
  inode: number;
  /** Bound path of the peer when ss resolved it, else `null`. */
  peerPath: string | null;
  /** Peer's socket inode (0 = unknown/none). */
  peerInode: number;
  owners: SocketOwner[];
}

/** One line of `/proc/net/tcp` or `/proc/net/tcp6`. */
export interface ProcTcpSocket {
  kind: 'tcp' | 'tcp6';
  state: TcpState;
  local: Endpoint;
  remote: Endpoint;
  /** tx_queue: unsent bytes (0 for LISTEN). */
  txQueue: number;
  /** rx_queue: unread bytes; for LISTEN the accept-queue depth (`sk_ack_backlog`). */
  rxQueue: number;
  uid: number;
  /** 0 for sockets no process holds yet (in an accept queue) or any more (TIME_WAIT). */
  inode: number;
}

/** One line of `/proc/net/unix`. */
export interface ProcUnixSocket {
  type: 'stream' | 'dgram' | 'seqpacket';
  /**
   * `struct socket` state: `UNCONNECTED` (incl. listeners), `CONNECTING` (for a connection still in
   * a listener's accept queue: it has no inode yet), `CONNECTED`, `DISCONNECTING`.
   */
  state: 'FREE' | 'UNCONNECTED' | 'CONNECTING' | 'CONNECTED' | 'DISCONNECTING';
  /** `__SO_ACCEPTCON` flag: a listener. */
  listening: boolean;
  refCount: number;
  /** 0 for connections still in an accept queue. */
  inode: number;
  /** Bound path (`@…` abstract), `null` when unbound. Accepted and queued sockets carry the listener's path. */
  path: string | null;
}
