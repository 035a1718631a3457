import type { CauseId } from './cause-ids.js';

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
  /**
   * Causes this symptom can stand for, most likely first. The one place the link is written:
   * each cause's `proxyLog` is derived from it.
   */
  readonly causes: readonly CauseId[];
  /** One line, plain words. */
  readonly meaning: string;
  /** A whole line as nginx 1.22.1 on Debian 12 wrote it (see {@link ProxyLogPattern.recorded}). */
  readonly example: string;
  /**
   * True when `example` was recorded from a real nginx run here: it is then a line of
   * test/fixtures/nginx-error-lines.txt, whose `# case:` header says how it was provoked (a test
   * checks both). False only for a line that cannot be provoked on this machine; its example then
   * follows nginx 1.22's source wording, and the pattern's doc comment says where.
   */
  readonly recorded: boolean;
}

/**
 * Ordered: the first pattern that matches wins, so specific ones come before general ones. Every
 * example was recorded from nginx 1.22.1 here (test/causes/nginx-lines.test.ts provokes the
 * proxy-side ones again on each run; test/proxy/table.test.ts the upstream-side ones).
 */
export const PROXY_LOG_PATTERNS: readonly ProxyLogPattern[] = [
  {
    id: 'connect-eagain',
    regex: /connect\(\) to \S+ failed \(11: Resource temporarily unavailable\) while connecting to upstream/,
    level: 'error',
    status: 502,
    causes: ['backlog-overflow-unix'],
    meaning: "the upstream's unix-socket accept queue is full: connect() fails at once with EAGAIN",
    example:
      '2026/11/26 08:21:01 [error] 23500#23500: *5 connect() to unix:/tmp/bg-up-D8DG8p/app.sock failed (11: Resource temporarily unavailable) while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://unix:/tmp/bg-up-D8DG8p/app.sock:/", host: "127.0.0.1:42451"',
    recorded: true,
  },
  {
    id: 'connect-refused',
    regex: /connect\(\) (?:to \S+ )?failed \(111: Connection refused\) while connecting to upstream/,
    level: 'error',
    status: 502,
    causes: ['upstream-down'],
    meaning: 'nothing listens on the upstream address (or a stale unix socket file is left behind)',
    example:
      '2026/11/26 08:20:58 [error] 23449#23449: *2 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:40907/", host: "127.0.0.1:43851"',
    recorded: true,
  },
  {
    id: 'connect-enoent',
    regex: /connect\(\) to \S+ failed \(2: No such file or directory\) while connecting to upstream/,
    level: 'crit',
    status: 502,
    causes: ['upstream-down'],
    meaning: 'the upstream unix socket file does not exist: the app is not running or listens elsewhere',
    example:
      '2026/11/26 08:20:59 [crit] 23458#23458: *2 connect() to unix:/tmp/bg-up-7jeKlB/app.sock failed (2: No such file or directory) while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://unix:/tmp/bg-up-7jeKlB/app.sock:/", host: "127.0.0.1:38607"',
    recorded: true,
  },
  {
    id: 'connect-eacces',
    regex: /connect\(\) to \S+ failed \(13: Permission denied\) while connecting to upstream/,
    level: 'crit',
    status: 502,
    causes: ['socket-permission'],
    meaning: "nginx's worker user may not write to the upstream unix socket file",
    example:
      '2026/11/26 08:21:00 [crit] 23484#23484: *2 connect() to unix:/tmp/bg-up-OtQMzu/app.sock failed (13: Permission denied) while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://unix:/tmp/bg-up-OtQMzu/app.sock:/", host: "127.0.0.1:46721"',
    recorded: true,
  },
  {
    // Recorded in a private network namespace (unshare -n) whose ip_local_port_range was two ports,
    // both held by slow requests: the machine's own range was never touched.
    id: 'connect-eaddrnotavail',
    regex: /connect\(\) (?:to \S+ )?failed \(99: Cannot assign requested address\) while connecting to upstream/,
    level: 'crit',
    status: 502,
    causes: ['ephemeral-ports'],
    meaning: 'the proxy has no free local port left to connect from (ephemeral ports exhausted, TIME_WAIT)',
    example:
      '2026/11/26 08:40:21 [crit] 18797#18797: *6 connect() to 127.0.0.1:9000 failed (99: Cannot assign requested address) while connecting to upstream, client: unix:, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:9000/", host: "localhost"',
    recorded: true,
  },
  {
    id: 'connect-timeout',
    regex: /upstream timed out \(110: Connection timed out\) while connecting to upstream/,
    level: 'error',
    status: 504,
    causes: ['backlog-overflow-tcp', 'fd-exhaustion', 'keepalive-leak', 'close-wait-leak'],
    meaning: 'the TCP handshake never completed: the accept queue is full and SYNs are dropped',
    example:
      '2026/11/26 08:21:03 [error] 23544#23544: *2 upstream timed out (110: Connection timed out) while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:35817/", host: "127.0.0.1:40813"',
    recorded: true,
  },
  {
    id: 'read-timeout',
    regex: /upstream timed out \(110: Connection timed out\) while reading response header from upstream/,
    level: 'error',
    status: 504,
    causes: ['slow-upstream', 'fd-exhaustion', 'keepalive-leak', 'backlog-overflow-tcp', 'close-wait-leak'],
    meaning: 'connected, but no response header came within proxy_read_timeout',
    example:
      '2026/11/26 08:21:04 [error] 23594#23594: *2 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:34913/", host: "127.0.0.1:45043"',
    recorded: true,
  },
  {
    id: 'send-timeout',
    regex: /upstream timed out \(110: Connection timed out\) while sending request to upstream/,
    level: 'error',
    status: 504,
    causes: ['slow-upstream'],
    meaning: 'the upstream did not read the request body within proxy_send_timeout',
    example:
      '2026/11/26 08:40:19 [error] 18703#18703: *2 upstream timed out (110: Connection timed out) while sending request to upstream, client: 127.0.0.1, server: localhost, request: "POST / HTTP/1.1", upstream: "http://127.0.0.1:40461/", host: "127.0.0.1:45807"',
    recorded: true,
  },
  {
    id: 'body-timeout',
    regex: /upstream timed out \(110: Connection timed out\) while reading upstream/,
    level: 'error',
    status: null,
    causes: ['slow-upstream'],
    meaning:
      'the response had started, then the upstream went quiet for proxy_read_timeout (client gets a truncated body)',
    example:
      '2026/11/26 08:40:18 [error] 18636#18636: *2 upstream timed out (110: Connection timed out) while reading upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:46775/", host: "127.0.0.1:33437"',
    recorded: true,
  },
  {
    id: 'premature-close',
    regex: /upstream prematurely closed connection while reading response header from upstream/,
    level: 'error',
    status: 502,
    causes: ['keepalive-race', 'upstream-crash', 'fd-exhaustion', 'keepalive-leak', 'close-wait-leak'],
    meaning:
      'the upstream closed the connection before sending a response header (a reused connection it was closing, or a worker that died)',
    example:
      '2026/11/26 08:21:05 [error] 23612#23612: *2 upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:35275/", host: "127.0.0.1:41657"',
    recorded: true,
  },
  {
    id: 'recv-reset',
    regex: /recv\(\) failed \(104: Connection reset by peer\) while reading response header from upstream/,
    level: 'error',
    status: 502,
    causes: ['keepalive-race', 'upstream-crash', 'fd-exhaustion', 'keepalive-leak', 'close-wait-leak'],
    meaning: 'the upstream reset the connection before sending a response header',
    example:
      '2026/11/26 08:21:04 [error] 23604#23604: *2 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:44401/", host: "127.0.0.1:44373"',
    recorded: true,
  },
  {
    id: 'send-failed',
    // writev() for a body in memory or with sendfile off (the default), sendfile() for a body buffered
    // to a temp file with sendfile on: both recorded, each with EPIPE and ECONNRESET.
    regex:
      /(?:writev|sendfile)\(\) failed \((?:32: Broken pipe|104: Connection reset by peer)\) while sending request to upstream/,
    level: 'error',
    status: 502,
    causes: ['keepalive-race'],
    meaning: 'the upstream had closed the (reused) connection while the proxy was sending the request',
    example:
      '2026/11/26 08:40:20 [error] 18766#18766: *2 writev() failed (32: Broken pipe) while sending request to upstream, client: 127.0.0.1, server: localhost, request: "POST / HTTP/1.1", upstream: "http://127.0.0.1:41091/", host: "127.0.0.1:36497"',
    recorded: true,
  },
  {
    id: 'body-premature-close',
    regex: /upstream prematurely closed connection while reading upstream/,
    level: 'error',
    status: null,
    causes: [],
    meaning: 'the upstream closed the connection in the middle of the response body (client gets a truncated body)',
    example:
      '2026/11/26 08:40:19 [error] 18671#18671: *2 upstream prematurely closed connection while reading upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:35417/", host: "127.0.0.1:44467"',
    recorded: true,
  },
  {
    id: 'body-reset',
    // readv() with proxy_buffering on (the default), recv() with it off: both recorded.
    regex: /(?:readv|recv)\(\) failed \(104: Connection reset by peer\) while reading upstream/,
    level: 'error',
    status: null,
    causes: [],
    meaning: 'the upstream reset the connection in the middle of the response body (client gets a truncated body)',
    example:
      '2026/11/26 08:21:05 [error] 23607#23607: *2 readv() failed (104: Connection reset by peer) while reading upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:40643/", host: "127.0.0.1:44767"',
    recorded: true,
  },
  {
    id: 'proxy-emfile-upstream',
    regex: /socket\(\) failed \(24: Too many open files\) while connecting to upstream/,
    level: 'alert',
    status: 500,
    causes: ['proxy-fd-exhaustion'],
    meaning: 'nginx has no fd left for the upstream socket (worker_rlimit_nofile): the client gets 500, not 502',
    example:
      '2026/11/26 08:40:18 [alert] 18614#18614: *17 socket() failed (24: Too many open files) while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:33245/", host: "127.0.0.1:39835"',
    recorded: true,
  },
  {
    id: 'proxy-emfile',
    // accept4() is the one recorded; open() (temp files, static files) is the same shortage.
    regex: /(?:accept4?|socket|open)\(\)(?: "[^"]*")? failed \(24: Too many open files\)/,
    level: 'crit',
    status: null,
    causes: ['proxy-fd-exhaustion'],
    meaning:
      'nginx itself is out of file descriptors (worker_rlimit_nofile): it cannot accept clients, who wait unanswered',
    example: '2026/11/26 08:40:18 [crit] 18617#18617: accept4() failed (24: Too many open files)',
    recorded: true,
  },
  {
    id: 'worker-connections-upstream',
    regex: /\d+ worker_connections are not enough while connecting to upstream/,
    level: 'alert',
    status: 500,
    causes: ['proxy-fd-exhaustion'],
    meaning: 'nginx has no free connection slot for the upstream connection (each proxied request uses two): 500',
    example:
      '2026/11/26 08:40:15 [alert] 18370#18370: *6 7 worker_connections are not enough while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:35135/", host: "127.0.0.1:40917"',
    recorded: true,
  },
  {
    id: 'worker-connections-reuse',
    regex: /\d+ worker_connections are not enough, reusing connections/,
    level: 'warn',
    status: null,
    causes: ['proxy-fd-exhaustion'],
    meaning:
      'nginx ran out of worker_connections and closes idle client connections (keep-alive, not yet sent a request) to go on',
    example: '2026/11/26 08:40:16 [warn] 18564#18564: 8 worker_connections are not enough, reusing connections',
    recorded: true,
  },
  {
    id: 'worker-connections',
    regex: /\d+ worker_connections are not enough/,
    level: 'alert',
    status: null,
    causes: ['proxy-fd-exhaustion'],
    meaning:
      'nginx ran out of worker_connections while accepting: it closes the new client connection at once (no response)',
    example: '2026/11/26 08:40:16 [alert] 18396#18396: 8 worker_connections are not enough',
    recorded: true,
  },
  {
    id: 'upstream-disabled',
    regex: /upstream server temporarily disabled/,
    level: 'warn',
    status: null,
    causes: ['no-live-upstreams'],
    meaning:
      'a server of an upstream group reached max_fails and is skipped for fail_timeout (the line before says why it failed)',
    example:
      '2026/11/26 08:40:15 [warn] 18363#18363: *2 upstream server temporarily disabled while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:40781/", host: "127.0.0.1:41137"',
    recorded: true,
  },
  {
    id: 'no-live-upstreams',
    regex: /no live upstreams while connecting to upstream/,
    level: 'error',
    status: 502,
    causes: ['no-live-upstreams'],
    meaning: 'every server of the upstream group is marked failed (max_fails) after earlier errors',
    example:
      '2026/11/26 08:40:15 [error] 18363#18363: *5 no live upstreams while connecting to upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://backend/", host: "127.0.0.1:41137"',
    recorded: true,
  },
  {
    id: 'too-big-header',
    regex: /upstream sent too big header while reading response header from upstream/,
    level: 'error',
    status: 502,
    causes: ['too-big-header'],
    meaning: "the upstream's response headers do not fit proxy_buffer_size",
    example:
      '2026/11/26 08:40:14 [error] 18356#18356: *2 upstream sent too big header while reading response header from upstream, client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:45323/", host: "127.0.0.1:37161"',
    recorded: true,
  },
];

/** Pattern id given to upstream-related error lines that match no known pattern: counted, never dropped. */
export const UNKNOWN_UPSTREAM_PATTERN = 'unknown-upstream-error';
