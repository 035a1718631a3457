import type { CauseId } from '../catalogue.js';

/**
 * Go's `net` / `net/http` error texts, as Caddy and Traefik (both Go) log them when an upstream
 * fails: `dial unix /run/app.sock: connect: resource temporarily unavailable`, `dial tcp
 * 127.0.0.1:8080: connect: connection refused`, `net/http: timeout awaiting response headers`,
 * `read tcp 127.0.0.1:41000->127.0.0.1:8080: read: connection reset by peer`, `EOF`. The kinds
 * below are the same for both proxies; each proxy's signal ids are `<proxy>-<kind>`.
 */
export interface GoErrorKind {
  /** Suffix of the signal id: `dial-eagain`, `header-timeout`… */
  readonly kind: string;
  /** The words of the error that give it away, for people: `connect: resource temporarily unavailable`. */
  readonly flag: string;
  /** Matches the error text. */
  readonly regex: RegExp;
  /**
   * What Caddy answers for it: its `statusError` makes 504 of a timeout only when the error itself is
   * a `net.Error` (a response-header timeout), so a dial timeout, which comes wrapped, is 502
   * (recorded with Caddy 2.6.2).
   */
  readonly status: 502 | 503 | 504;
  /** What Traefik answers, when it differs: its `ComputeStatusCode` unwraps (`errors.As`), so every timeout is 504. */
  readonly traefikStatus?: 502 | 503 | 504;
  readonly causes: readonly CauseId[];
  readonly meaning: string;
}

/** Ordered: the first match wins. */
export const GO_ERROR_KINDS: readonly GoErrorKind[] = [
  {
    kind: 'dial-eagain',
    flag: 'dial unix …: connect: resource temporarily unavailable',
    regex: /dial unix \S+: connect: resource temporarily unavailable/,
    status: 502,
    causes: ['backlog-overflow-unix'],
    meaning: "the upstream's unix-socket accept queue is full: connect() fails at once with EAGAIN",
  },
  {
    kind: 'dial-refused',
    flag: 'dial …: connect: connection refused',
    regex: /dial (?:tcp|unix) \S+: connect: connection refused/,
    status: 502,
    causes: ['upstream-down'],
    meaning: 'nothing listens on the upstream address (or a stale unix socket file is left behind)',
  },
  {
    kind: 'dial-enoent',
    flag: 'dial unix …: connect: no such file or directory',
    regex: /dial unix \S+: connect: no such file or directory/,
    status: 502,
    causes: ['upstream-down'],
    meaning: 'the upstream unix socket file does not exist',
  },
  {
    kind: 'dial-eacces',
    flag: 'dial unix …: connect: permission denied',
    regex: /dial unix \S+: connect: permission denied/,
    status: 502,
    causes: ['socket-permission'],
    meaning: "the proxy's user may not write to the upstream unix socket file",
  },
  {
    kind: 'dial-eaddrnotavail',
    flag: 'dial tcp …: connect: cannot assign requested address',
    regex: /dial tcp \S+: connect: cannot assign requested address/,
    status: 502,
    causes: ['ephemeral-ports'],
    meaning: 'no free local port left to connect from (ephemeral ports exhausted)',
  },
  {
    kind: 'proxy-emfile',
    flag: 'socket: too many open files',
    regex: /(?:socket|accept\S*|dial \S+ \S+: socket): too many open files/,
    status: 502,
    causes: ['proxy-fd-exhaustion'],
    meaning: 'the proxy itself is out of file descriptors',
  },
  {
    kind: 'dial-timeout',
    flag: 'dial tcp …: i/o timeout',
    regex: /dial (?:tcp|unix) \S+: (?:i\/o timeout|connect: connection timed out|.*context deadline exceeded)/,
    status: 502,
    traefikStatus: 504,
    causes: ['backlog-overflow-tcp', 'fd-exhaustion', 'keepalive-leak'],
    meaning:
      'the TCP handshake did not complete within the dial timeout: the accept queue is full and SYNs are dropped',
  },
  {
    kind: 'write-timeout',
    flag: 'write tcp …: i/o timeout',
    regex: /write (?:tcp|unix) \S+: i\/o timeout/,
    status: 504,
    causes: ['slow-upstream'],
    meaning: 'the upstream did not read the request (body) within the write timeout',
  },
  {
    kind: 'header-timeout',
    flag: 'net/http: timeout awaiting response headers',
    regex: /net\/http: timeout awaiting response headers|context deadline exceeded|i\/o timeout/,
    status: 504,
    causes: ['slow-upstream', 'fd-exhaustion', 'keepalive-leak', 'backlog-overflow-tcp'],
    meaning: 'connected, but no response header came within the response-header timeout',
  },
  {
    kind: 'no-upstreams',
    flag: 'no upstreams available (Traefik: no available server)',
    regex: /no upstreams available|no available server/,
    status: 503,
    causes: ['no-live-upstreams'],
    meaning: 'every upstream is marked unhealthy or none is configured',
  },
  {
    kind: 'too-big-header',
    flag: 'server response headers exceeded … bytes',
    regex: /server response headers exceeded \d+ bytes|header too long|too many headers/,
    status: 502,
    causes: ['too-big-header'],
    meaning: "the upstream's response headers exceed the proxy's limit",
  },
  {
    kind: 'reset',
    flag: 'read: connection reset by peer, broken pipe, use of closed network connection',
    // `use of closed network connection`: the request (body) written to a pooled connection the
    // transport had already seen closed, the keep-alive race in the send phase (recorded with Caddy 2.6.2).
    regex: /(?:read|write|readfrom|writeto): (?:connection reset by peer|broken pipe)|use of closed network connection/,
    status: 502,
    causes: ['keepalive-race', 'upstream-crash', 'fd-exhaustion', 'keepalive-leak', 'close-wait-leak'],
    meaning:
      'the upstream reset the connection before a response (a reused connection it had closed, a worker that died, or a server out of fds)',
  },
  {
    kind: 'eof',
    flag: 'EOF, http: server closed idle connection',
    regex: /^(?:unexpected )?EOF$|: (?:unexpected )?EOF$|http: server closed idle connection|server closed connection/,
    status: 502,
    causes: ['keepalive-race', 'upstream-crash', 'fd-exhaustion', 'keepalive-leak', 'close-wait-leak'],
    meaning:
      'the upstream closed the connection before sending a response header (a reused connection it had closed, or a worker that died)',
  },
];

/** The first kind whose regex matches `message`, or undefined. */
export function matchGoError(message: string): GoErrorKind | undefined {
  for (const k of GO_ERROR_KINDS) if (k.regex.test(message)) return k;
  return undefined;
}
