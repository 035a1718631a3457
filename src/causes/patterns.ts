import type { CauseId } from './catalogue.js';

/** nginx error-log levels we meet in 502/504 lines. */
export type LogLevel = 'emerg' | 'alert' | 'crit' | 'error' | 'warn' | 'notice' | 'info' | 'debug';

/**
 * One kind of line a proxy writes to its error log when an upstream fails: the symptom. Several
 * causes can share one symptom (a read timeout is a slow upstream, or a full accept queue, or an
 * upstream out of fds), so a pattern names every cause it can stand for; the evidence on the
 * upstream decides between them (doctor) or the scenario does (lab).
 */
export interface ProxyLogPattern {
  /** Stable id, used in JSON output and tests. */
  readonly id: string;
  /** Matches the message part of the line (after `*N `, before `, client:`). */
  readonly regex: RegExp;
  /** The level nginx 1.22 writes it at. */
  readonly level: LogLevel;
  /**
   * What the client got: 502, 504, 500 (nginx failing its own side of the upstream connection —
   * socket() EMFILE, no free worker connection — answers 500, not 502), or null when the response
   * had already started or the client got no response at all (accept() failed).
   */
  readonly status: 502 | 504 | 500 | null;
  /** Causes this symptom can stand for, most likely first. */
  readonly causes: readonly CauseId[];
  /** One line, plain words. */
  readonly meaning: string;
  /** A real line written by nginx 1.22.1 on Debian 12 (see test/fixtures/nginx-error-lines.txt). */
  readonly example: string;
}

/** Ordered: the first pattern that matches wins, so specific ones come before general ones. */
export const PROXY_LOG_PATTERNS: readonly ProxyLogPattern[] = [
  {
    id: 'connect-eagain',
    regex: /connect\(\) to \S+ failed \(11: Resource temporarily unavailable\) while connecting to upstream/,
    level: 'error',
    status: 502,
    causes: ['backlog-overflow-unix'],
    meaning: "the upstream's unix-socket accept queue is full: connect() fails at once with EAGAIN",
    example:
      '2026/11/26 08:00:00 [error] 1234#1234: *267 connect() to unix:/run/gunicorn.socket failed (11: Resource temporarily unavailable) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://unix:/run/gunicorn.socket:/", host: "127.0.0.1"',
  },
  {
    id: 'connect-refused',
    regex: /connect\(\) (?:to \S+ )?failed \(111: Connection refused\) while connecting to upstream/,
    level: 'error',
    status: 502,
    causes: ['upstream-down'],
    meaning: 'nothing listens on the upstream address (or a stale unix socket file is left behind)',
    example:
      '2026/11/26 08:00:00 [error] 1234#1234: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:9/", host: "127.0.0.1"',
  },
  {
    id: 'connect-enoent',
    regex: /connect\(\) to \S+ failed \(2: No such file or directory\) while connecting to upstream/,
    level: 'crit',
    status: 502,
    causes: ['upstream-down'],
    meaning: 'the upstream unix socket file does not exist: the app is not running or listens elsewhere',
    example:
      '2026/11/26 08:00:00 [crit] 1234#1234: *1 connect() to unix:/tmp/app.sock failed (2: No such file or directory) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://unix:/tmp/app.sock:/", host: "127.0.0.1"',
  },
  {
    id: 'connect-eacces',
    regex: /connect\(\) to \S+ failed \(13: Permission denied\) while connecting to upstream/,
    level: 'crit',
    status: 502,
    causes: ['socket-permission'],
    meaning: "nginx's worker user may not write to the upstream unix socket file",
    example:
      '2026/11/26 08:00:00 [crit] 1234#1234: *1 connect() to unix:/tmp/app.sock failed (13: Permission denied) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://unix:/tmp/app.sock:/", host: "127.0.0.1"',
  },
  {
    id: 'connect-eaddrnotavail',
    regex: /connect\(\) (?:to \S+ )?failed \(99: Cannot assign requested address\) while connecting to upstream/,
    level: 'crit',
    status: 502,
    causes: ['ephemeral-ports'],
    meaning: 'the proxy has no free local port left to connect from (ephemeral ports exhausted, TIME_WAIT)',
    example:
      '2026/11/26 08:00:00 [crit] 1234#1234: *1 connect() to 127.0.0.1:8080 failed (99: Cannot assign requested address) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:8080/", host: "127.0.0.1"',
  },
  {
    id: 'connect-timeout',
    regex: /upstream timed out \(110: Connection timed out\) while connecting to upstream/,
    level: 'error',
    status: 504,
    causes: ['backlog-overflow-tcp', 'fd-exhaustion', 'keepalive-leak'],
    meaning: 'the TCP handshake never completed: the accept queue is full and SYNs are dropped',
    example:
      '2026/11/26 08:00:00 [error] 1234#1234: *1 upstream timed out (110: Connection timed out) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:8080/", host: "127.0.0.1"',
  },
  {
    id: 'read-timeout',
    regex: /upstream timed out \(110: Connection timed out\) while reading response header from upstream/,
    level: 'error',
    status: 504,
    causes: ['slow-upstream', 'fd-exhaustion', 'keepalive-leak', 'backlog-overflow-tcp'],
    meaning: 'connected, but no response header came within proxy_read_timeout',
    example:
      '2026/11/26 08:00:00 [error] 1234#1234: *1 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: _, request: "GET /sleep?ms=5000 HTTP/1.1", upstream: "http://127.0.0.1:8080/sleep?ms=5000", host: "127.0.0.1"',
  },
  {
    id: 'send-timeout',
    regex: /upstream timed out \(110: Connection timed out\) while sending request to upstream/,
    level: 'error',
    status: 504,
    causes: ['slow-upstream'],
    meaning: 'the upstream did not read the request body within proxy_send_timeout',
    example:
      '2026/11/26 08:00:00 [error] 1234#1234: *1 upstream timed out (110: Connection timed out) while sending request to upstream, client: 127.0.0.1, server: _, request: "POST /upload HTTP/1.1", upstream: "http://127.0.0.1:8080/upload", host: "127.0.0.1"',
  },
  {
    id: 'body-timeout',
    regex: /upstream timed out \(110: Connection timed out\) while reading upstream/,
    level: 'error',
    status: null,
    causes: ['slow-upstream'],
    meaning: 'the response had started, then the upstream went quiet for proxy_read_timeout (client gets a truncated body)',
    example:
      '2026/11/26 08:00:00 [error] 1234#1234: *1 upstream timed out (110: Connection timed out) while reading upstream, client: 127.0.0.1, server: _, request: "GET /stream HTTP/1.1", upstream: "http://127.0.0.1:8080/stream", host: "127.0.0.1"',
  },
  {
    id: 'premature-close',
    regex: /upstream prematurely closed connection while reading response header from upstream/,
    level: 'error',
    status: 502,
    causes: ['keepalive-race', 'fd-exhaustion'],
    meaning: 'the upstream closed the connection before sending a response header',
    example:
      '2026/11/26 08:00:00 [error] 1234#1234: *1 upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1, server: _, request: "POST / HTTP/1.1", upstream: "http://127.0.0.1:8080/", host: "127.0.0.1"',
  },
  {
    id: 'recv-reset',
    regex: /recv\(\) failed \(104: Connection reset by peer\) while reading response header from upstream/,
    level: 'error',
    status: 502,
    causes: ['keepalive-race', 'fd-exhaustion'],
    meaning: 'the upstream reset the connection before sending a response header',
    example:
      '2026/11/26 08:00:00 [error] 1234#1234: *1 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 127.0.0.1, server: _, request: "POST / HTTP/1.1", upstream: "http://127.0.0.1:8080/", host: "127.0.0.1"',
  },
  {
    id: 'send-failed',
    regex: /(?:writev|send|write)\(\) failed \((?:32: Broken pipe|104: Connection reset by peer)\) while sending request to upstream/,
    level: 'error',
    status: 502,
    causes: ['keepalive-race'],
    meaning: 'the upstream had closed the (reused) connection while the proxy was sending the request',
    example:
      '2026/11/26 08:00:00 [error] 1234#1234: *1 writev() failed (32: Broken pipe) while sending request to upstream, client: 127.0.0.1, server: _, request: "POST / HTTP/1.1", upstream: "http://127.0.0.1:8080/", host: "127.0.0.1"',
  },
  {
    id: 'body-premature-close',
    regex: /upstream prematurely closed connection while reading upstream/,
    level: 'error',
    status: null,
    causes: [],
    meaning: 'the upstream closed the connection in the middle of the response body (client gets a truncated body)',
    example:
      '2026/11/26 08:00:00 [error] 1234#1234: *1 upstream prematurely closed connection while reading upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:8080/", host: "127.0.0.1"',
  },
  {
    id: 'body-reset',
    regex: /(?:readv|recv)\(\) failed \(104: Connection reset by peer\) while reading upstream/,
    level: 'error',
    status: null,
    causes: [],
    meaning: 'the upstream reset the connection in the middle of the response body (client gets a truncated body)',
    example:
      '2026/11/26 08:21:05 [error] 23607#23607: *2 readv() failed (104: Connection reset by peer) while reading upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:40643/", host: "127.0.0.1:44767"',
  },
  {
    id: 'proxy-emfile-upstream',
    regex: /socket\(\) failed \(24: Too many open files\) while connecting to upstream/,
    level: 'alert',
    status: 500,
    causes: ['proxy-fd-exhaustion'],
    meaning: 'nginx has no fd left for the upstream socket (worker_rlimit_nofile): the client gets 500, not 502',
    example:
      '2026/11/26 07:51:04 [alert] 13644#13644: *49 socket() failed (24: Too many open files) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /slow HTTP/1.1", upstream: "http://127.0.0.1:18081/slow", host: "127.0.0.1:18080"',
  },
  {
    id: 'proxy-emfile',
    regex: /(?:accept4?|socket|open)\(\)(?: "[^"]*")? failed \(24: Too many open files\)/,
    level: 'crit',
    status: null,
    causes: ['proxy-fd-exhaustion'],
    meaning: 'nginx itself is out of file descriptors (worker_rlimit_nofile): it cannot accept clients, who get no response',
    example: '2026/11/26 07:51:03 [crit] 13644#13644: accept4() failed (24: Too many open files)',
  },
  {
    id: 'worker-connections-upstream',
    regex: /\d+ worker_connections are not enough while connecting to upstream/,
    level: 'alert',
    status: 500,
    causes: ['proxy-fd-exhaustion'],
    meaning: 'nginx has no free connection slot for the upstream connection (each proxied request uses two): 500',
    example:
      '2026/11/26 08:00:00 [alert] 1234#1234: *1 1024 worker_connections are not enough while connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:8080/", host: "127.0.0.1"',
  },
  {
    id: 'worker-connections',
    regex: /\d+ worker_connections are not enough/,
    level: 'alert',
    status: null,
    causes: ['proxy-fd-exhaustion'],
    meaning: "nginx ran out of worker_connections while accepting: new clients get no response",
    example: '2026/11/26 07:50:51 [alert] 13045#13045: 30 worker_connections are not enough',
  },
  {
    id: 'no-live-upstreams',
    regex: /no live upstreams while connecting to upstream/,
    level: 'error',
    status: 502,
    causes: ['no-live-upstreams'],
    meaning: 'every server of the upstream group is marked failed (max_fails) after earlier errors',
    example:
      '2026/11/26 08:00:00 [error] 1234#1234: *1 no live upstreams while connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://backend/", host: "127.0.0.1"',
  },
  {
    id: 'too-big-header',
    regex: /upstream sent too big header while reading response header from upstream/,
    level: 'error',
    status: 502,
    causes: ['too-big-header'],
    meaning: "the upstream's response headers do not fit proxy_buffer_size",
    example:
      '2026/11/26 08:00:00 [error] 1234#1234: *1 upstream sent too big header while reading response header from upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:8080/", host: "127.0.0.1"',
  },
];

/** Pattern id given to upstream-related error lines that match no known pattern: counted, never dropped. */
export const UNKNOWN_UPSTREAM_PATTERN = 'unknown-upstream-error';
