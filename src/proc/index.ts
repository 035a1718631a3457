/**
 * Linux facts about processes and sockets, as plain data (read from /proc and `ss`). Socket facts
 * are those of the caller's network namespace. Every reader throws `BadgatewayError`:
 * `BG_NO_SUCH_PID`, `BG_PERMISSION`, `BG_MISSING_TOOL` (ss required but absent),
 * `BG_UNSUPPORTED_PLATFORM` (not Linux / no /proc), `BG_BAD_OPTION`.
 */
export {
  readFdStats,
  readFdLimits,
  countFds,
  parseNofileLimits,
  classifyFdTarget,
  procError,
  type FdKind,
  type FdLimits,
  type FdStats,
} from './fds.js';
export {
  readListenSockets,
  readListenQueue,
  type ListenFilter,
  type ListenReadOptions,
  type ListenQueue,
  type SocketTarget,
} from './listen.js';
export {
  readConnections,
  CONNECTION_DEFAULTS,
  type ConnectionOptions,
  type ConnectionSocket,
  type ConnectionStats,
} from './connections.js';
export { readNetstatCounters, readSomaxconn, readUnprivilegedPortStart, type NetstatCounters } from './counters.js';
export { readSocketStates, readSocketSnapshot, type SocketState, type SocketSnapshot } from './socket-states.js';
export { findSocketOwners, FIND_OWNERS_DEFAULTS, type FindOwnersOptions } from './owners.js';
export { assertLinux } from './platform.js';
export {
  SOCKET_READ_DEFAULTS,
  resolveSocketReadOptions,
  runSs,
  type SocketReadOptions,
  type SocketSource,
} from './ss.js';
export { parseSsListen, parseSsTcp, parseSsUnix, parseSsEndpoint, parseSsUsers, parseSsState } from './parse-ss.js';
export { parseProcNetTcp, parseProcNetUnix, parseProcNetAddress, parseNetstat } from './parse-proc-net.js';
export {
  TCP_STATES,
  type TcpState,
  type ListenKind,
  type ListenSocket,
  type SocketOwner,
  type Endpoint,
  type SsTcpSocket,
  type SsUnixSocket,
  type ProcTcpSocket,
  type ProcUnixSocket,
} from './types.js';
export {
  checkSocketAccess,
  checkSearchAccess,
  readAccountDb,
  resolveUserSpec,
  type AccountDb,
  type SocketAccess,
  type WorkerIdentity,
} from './socket-access.js';
