import type { CauseId } from './cause-ids.js';
import { PROXY_LOG_PATTERNS } from './patterns.js';

export { CAUSE_IDS, isCauseId, type CauseId } from './cause-ids.js';

export interface Cause {
  readonly id: CauseId;
  readonly title: string;
  /** Where the fault is: the app behind the proxy, or the proxy itself. */
  readonly side: 'upstream' | 'proxy';
  /** Two or three sentences: what happens, mechanically. */
  readonly summary: string;
  /** What the client of the proxy sees (500: nginx's own connection to the upstream failed). */
  readonly statuses: readonly (502 | 504 | 500)[];
  /**
   * Ids of PROXY_LOG_PATTERNS this cause shows up as: derived from the patterns' own `causes`
   * (the link is written once, on the pattern side), the patterns where this cause is the
   * likeliest reading first.
   */
  readonly proxyLog: readonly string[];
  /** What to look for on the machine (doctor's rules look for exactly this). */
  readonly evidence: readonly string[];
  /** Commands that confirm it by hand. */
  readonly confirm: readonly string[];
  /** What fixes it, most direct first. */
  readonly fix: readonly string[];
  /** The seed incident it comes from, if any (file in shared/seeds). */
  readonly seed?: string;
}

/** A cause as written here; its `proxyLog` is derived (see {@link Cause.proxyLog}). */
type CauseEntry = Omit<Cause, 'proxyLog'>;

const ENTRIES: readonly CauseEntry[] = [
  {
    id: 'fd-exhaustion',
    title: 'Upstream out of file descriptors (EMFILE)',
    side: 'upstream',
    summary:
      'The app has as many fds open as RLIMIT_NOFILE allows, so accept() fails with EMFILE. Node/libuv accepts and ' +
      'closes the connection at once (the proxy sees a reset or a premature close, 502); Python servers stop accepting, ' +
      'the accept queue fills and the proxy times out (504).',
    statuses: [502, 504],
    evidence: [
      'open fds at or near the soft RLIMIT_NOFILE (/proc/PID/fd vs /proc/PID/limits)',
      "what holds them: mostly regular files, pipes or anon inodes (the app's own code leaks them); idle sockets point at keepalive-leak, CLOSE_WAIT ones at close-wait-leak",
      'the app logs EMFILE / "Too many open files"',
      'connections queue on the listener (ss -ltn Recv-Q > 0) while the app is idle',
    ],
    confirm: ['ls /proc/PID/fd | wc -l', "grep 'Max open files' /proc/PID/limits", 'ss -ltnp'],
    fix: [
      'find and close the leak (files, sockets or clients opened per request and never closed)',
      'raise the limit (systemd LimitNOFILE=, docker --ulimit nofile=, prlimit) with headroom',
      'shed load before the limit: badgateway/guard answers 503 + Retry-After at maxFdRatio (default 90%)',
    ],
    seed: '000_940fd2fd0ff3528a.txt',
  },
  {
    id: 'keepalive-leak',
    title: 'Idle keep-alive connections never closed (socket leak)',
    side: 'upstream',
    summary:
      'The server has no idle timeout for keep-alive connections (gevent pywsgi, keepAliveTimeout 0), so every client ' +
      'that does not send Connection: close keeps a socket and an fd forever. The sockets pile up to the fd limit and ' +
      'new connections cannot be accepted.',
    statuses: [504, 502],
    evidence: [
      'most open fds are sockets',
      'many ESTABLISHED connections on the listening port with no traffic for a long time (ss -tni: lastrcv)',
      'fd count near the soft RLIMIT_NOFILE',
    ],
    confirm: ["ss -tni state established '( sport = :PORT )'", 'ls -l /proc/PID/fd | grep -c socket'],
    fix: [
      'give the server an idle keep-alive timeout (Node: server.keepAliveTimeout; gevent: a handler timeout)',
      'put a proxy in front that closes idle client connections (nginx keepalive_timeout)',
      "close idle sockets first under fd pressure: badgateway/guard's idle-socket reaper",
    ],
    seed: '001_66431fb1c7d7ff21.txt',
  },
  {
    id: 'backlog-overflow-unix',
    title: 'Accept queue full on a unix socket',
    side: 'upstream',
    summary:
      "Workers are all busy (a sync worker blocks per request), connections wait in the unix socket's accept queue, and " +
      'once it holds `backlog` of them connect() fails at once with EAGAIN: nginx answers 502 immediately.',
    statuses: [502],
    evidence: [
      'ss -xl: Recv-Q (queued) equals Send-Q (backlog) on the socket',
      'backlog small compared with the burst (gunicorn --backlog, listen(backlog), capped by net.core.somaxconn)',
      'TcpExt ListenOverflows does not move: unix sockets are not counted there',
    ],
    confirm: ['ss -xlp | grep SOCKET', 'sysctl net.core.somaxconn'],
    fix: [
      'raise the backlog (gunicorn --backlog 2048) and net.core.somaxconn, which caps it',
      'add workers or use async workers so the queue drains',
      'limit concurrency in front of the app so bursts wait in the proxy, not in the kernel',
    ],
    seed: '002_51a03c311a778af2.txt',
  },
  {
    id: 'backlog-overflow-tcp',
    title: 'Accept queue full on a TCP socket',
    side: 'upstream',
    summary:
      'The same overflow on TCP: the kernel drops the SYNs (or the final ACKs) it cannot queue, the client retries them ' +
      'with backoff, and the proxy gives up with a connect or read timeout (504). TcpExt ListenOverflows and ' +
      'ListenDrops grow.',
    statuses: [504],
    evidence: [
      'ss -ltn: Recv-Q equals Send-Q on the listener',
      'TcpExt ListenOverflows / ListenDrops growing between two samples (/proc/net/netstat)',
      'backlog capped by net.core.somaxconn',
    ],
    confirm: ['ss -ltn sport = :PORT', 'nstat -az TcpExtListenOverflows TcpExtListenDrops'],
    fix: [
      'raise the backlog and net.core.somaxconn',
      'add workers or async workers so the queue drains',
      'limit concurrency in front of the app',
    ],
  },
  {
    id: 'keepalive-race',
    title: 'Keep-alive race: upstream closes an idle connection as the proxy reuses it',
    side: 'upstream',
    summary:
      'The proxy keeps idle upstream connections to reuse them; the upstream closes idle ones after its own keep-alive ' +
      'timeout (Node: 5 s). When the close and the next request cross, the request hits a closed socket: the proxy ' +
      'sees a reset or a premature close and answers 502 (a non-idempotent request such as POST is not retried).',
    statuses: [502],
    evidence: [
      "upstream keep-alive timeout shorter than or equal to the proxy's idle timeout for pooled connections",
      'the proxy keeps a pool of idle upstream connections (nginx: keepalive N in the upstream block); without one no connection is reused and there is no race',
      'errors spread thinly over time, mostly on POST/PATCH, none at low idle times',
    ],
    confirm: [
      'curl -sv the upstream and read its Keep-Alive: timeout= header',
      'grep keepalive_timeout in the proxy config',
    ],
    fix: [
      "make the upstream's keep-alive timeout longer than the proxy's idle timeout (Node: keepAliveTimeout > proxy idle, headersTimeout > keepAliveTimeout)",
      'badgateway/guard hardenServer(server, { proxyIdleTimeoutMs }) sets and checks them',
    ],
  },
  {
    id: 'slow-upstream',
    title: 'Slow upstream: the proxy gives up waiting',
    side: 'upstream',
    summary:
      'The upstream accepted the request but did not answer within proxy_read_timeout (60 s by default), so the proxy ' +
      'answers 504 and logs a read timeout.',
    statuses: [504],
    evidence: [
      'upstream response times near the proxy read timeout ($upstream_response_time in the access log)',
      'requests in flight piling up',
    ],
    confirm: ['the access log with $upstream_response_time', 'curl -w "%{time_total}" the slow endpoint directly'],
    fix: [
      'make the slow work asynchronous (a job queue) or faster',
      'align the timeouts: the app gives up (deadline) before the proxy does',
      'limit concurrency so requests queue where they can be shed with 503',
    ],
  },
  {
    id: 'upstream-down',
    title: 'Nothing listens on the upstream address',
    side: 'upstream',
    summary:
      'The app is stopped, crashed or listens elsewhere: connect() is refused on TCP, or the unix socket file is ' +
      'missing (ENOENT) or stale (ECONNREFUSED). The proxy answers 502 at once.',
    statuses: [502],
    evidence: ['no listener on the port / socket path (ss -ltn, ss -xl)', 'a socket file that nothing listens on'],
    confirm: ['ss -ltnp sport = :PORT', 'ss -xlp | grep SOCKET', 'ls -l SOCKET'],
    fix: [
      'start the app (and have its supervisor restart it)',
      'remove a stale socket file on start',
      'point the proxy at the address the app really uses',
    ],
  },
  {
    id: 'socket-permission',
    title: "The proxy's worker user cannot open the upstream unix socket",
    side: 'proxy',
    summary:
      'nginx workers run as an unprivileged user (nobody, www-data); connect() to a unix socket needs write permission ' +
      'on the socket file, so a socket created with mode 0755/0700 by another user fails with EACCES (502, [crit]).',
    statuses: [502],
    evidence: [
      'socket file mode / owner / group vs the nginx worker user and its groups (write permission on the socket is what connect() needs)',
      'execute (search) permission on every directory above the socket for that user',
    ],
    confirm: ['ls -l SOCKET', 'namei -l SOCKET', 'ps -o user=,group= -C nginx'],
    fix: [
      "create the socket so the proxy's worker user can write it: gunicorn --umask 007 and a group nginx's workers are in (chown :www-data), or chmod 660 after bind",
      "give the proxy's worker user execute (search) permission on every directory above the socket",
      "or run nginx's workers as the app's user (nginx: user)",
    ],
  },
  {
    id: 'proxy-fd-exhaustion',
    title: 'The proxy itself is out of file descriptors or connections',
    side: 'proxy',
    summary:
      'nginx uses two fds per proxied request (client + upstream). At worker_rlimit_nofile or worker_connections it ' +
      'cannot accept clients (they get no response) or open upstream sockets (the client gets 500, not 502: measured ' +
      'with nginx 1.22.1).',
    statuses: [500],
    evidence: [
      'nginx worker fds near their limit',
      '"Too many open files" or "worker_connections are not enough" in the error log',
    ],
    confirm: [
      "grep 'Max open files' /proc/$(pgrep -f 'nginx: worker' | head -1)/limits",
      'ls /proc/NGINX_WORKER_PID/fd | wc -l',
    ],
    fix: [
      'raise worker_rlimit_nofile and worker_connections together',
      'use upstream keepalive to need fewer upstream sockets',
    ],
  },
  {
    id: 'ephemeral-ports',
    title: 'The proxy ran out of local ports to connect from',
    side: 'proxy',
    summary:
      'Every new upstream connection needs a local port; with no keep-alive to the upstream, closed connections sit ' +
      'in TIME_WAIT and the ephemeral range runs out: connect() fails with EADDRNOTAVAIL (99).',
    statuses: [502],
    evidence: ['tens of thousands of TIME_WAIT sockets towards the upstream', 'net.ipv4.ip_local_port_range'],
    confirm: ['ss -tan state time-wait | wc -l', 'sysctl net.ipv4.ip_local_port_range'],
    fix: [
      'enable upstream keep-alive (keepalive N; proxy_http_version 1.1; proxy_set_header Connection "")',
      'widen ip_local_port_range',
      'spread over more upstream addresses',
    ],
  },
  {
    id: 'no-live-upstreams',
    title: 'Every upstream server is marked down',
    side: 'proxy',
    summary:
      'After max_fails failures nginx marks a server unavailable for fail_timeout; with all of them marked it answers ' +
      '502 without trying. The real cause is in the earlier errors.',
    statuses: [502],
    evidence: ['earlier connect/read errors against the same upstream group'],
    confirm: ['grep -B50 "no live upstreams" error.log'],
    fix: ['fix the earlier upstream errors', 'tune max_fails / fail_timeout, add servers'],
  },
  {
    id: 'too-big-header',
    title: 'Upstream response headers too big for the proxy buffer',
    side: 'proxy',
    summary:
      "The upstream's response header block (large cookies, long redirects) does not fit proxy_buffer_size: nginx answers 502.",
    statuses: [502],
    evidence: ['large Set-Cookie or Location headers in the upstream response'],
    confirm: ['curl -sI the upstream directly | wc -c'],
    fix: ['raise proxy_buffer_size and proxy_buffers', 'send smaller headers'],
  },
  {
    id: 'close-wait-leak',
    title: 'The app never closes connections its peer closed (CLOSE_WAIT leak)',
    side: 'upstream',
    summary:
      'The proxy (or any client) closed its end, the kernel acknowledged the FIN, and the app never called close(): the ' +
      'socket waits in CLOSE_WAIT holding an fd for as long as the process lives. They pile up to RLIMIT_NOFILE and ' +
      'new connections cannot be accepted (Node: reset or premature close, 502; Python servers: 504).',
    statuses: [502, 504],
    evidence: [
      'many sockets of the process in CLOSE_WAIT (ss -tanp state close-wait), growing and never going away',
      'fd count near the soft RLIMIT_NOFILE, most of it those sockets',
    ],
    confirm: ["ss -tanp state close-wait '( sport = :PORT )' | wc -l", 'ls -l /proc/PID/fd | grep -c socket'],
    fix: [
      "close the socket when the peer has closed its end (Node: no allowHalfOpen, or call socket.end() on 'end'; always release a connection in a finally)",
      'find the code path that keeps the connection object alive (a pool that never releases, a missing close on an error path)',
      'as a stopgap, restart before the limit and raise RLIMIT_NOFILE',
    ],
  },
  {
    id: 'upstream-crash',
    title: 'An app worker died in the middle of a request (killed, timed out or crashed)',
    side: 'upstream',
    summary:
      'The worker serving the request exited before answering: gunicorn killed it at --timeout (WORKER TIMEOUT), the ' +
      'kernel OOM killer or a memory limit killed it (SIGKILL), or an uncaught exception ended the process. The kernel ' +
      'closes its sockets, so the proxy reads EOF or a reset on a connection it had not reused and answers 502.',
    statuses: [502],
    evidence: [
      'upstream prematurely closed connection while reading response header, with no upstream keep-alive pool (the connection was new)',
      'the app server log: gunicorn [CRITICAL] WORKER TIMEOUT (pid:N), "Worker (pid:N) was sent SIGKILL! Perhaps out of memory?", a fatal trace (Node.js vN after an uncaught exception, Fatal Python error)',
      'the kernel log: Out of memory: Killed process N',
    ],
    confirm: [
      "grep -E 'WORKER TIMEOUT|SIGKILL|signal 9|exited with code' /var/log/gunicorn/error.log",
      "journalctl -k | grep -i 'killed process'",
      'badgateway doctor --nginx-error-log ERROR_LOG --app-log APP_LOG',
    ],
    fix: [
      'gunicorn: raise --timeout above the slowest request, or move slow requests to async or threaded workers (-k gthread --threads N, -k gevent)',
      'give the workers the memory they need (or lower their use): a cgroup/container memory limit or the OOM killer ends them with SIGKILL',
      "catch what the request throws: an error handler that answers 500 instead of an uncaught exception that ends the process (Node: process.on('uncaughtException') logs and exits cleanly, the framework's error middleware answers)",
    ],
  },
];

/**
 * The patterns a cause shows up as, from the patterns' side: those that read as this cause
 * first come first (a connect() EAGAIN is a full unix backlog before anything else), then in the
 * catalogue's order of patterns.
 */
function patternsOf(cause: CauseId): string[] {
  return PROXY_LOG_PATTERNS.map((p, order) => ({ id: p.id, rank: p.causes.indexOf(cause), order }))
    .filter((p) => p.rank >= 0)
    .sort((a, b) => a.rank - b.rank || a.order - b.order)
    .map((p) => p.id);
}

/** Every cause, its `proxyLog` derived from the patterns. */
export const CAUSES: readonly Cause[] = ENTRIES.map((c) => ({ ...c, proxyLog: patternsOf(c.id) }));

const BY_ID = new Map<string, Cause>(CAUSES.map((c) => [c.id, c]));

/** The cause with that id, or undefined. */
export function getCause(id: string): Cause | undefined {
  return BY_ID.get(id);
}
