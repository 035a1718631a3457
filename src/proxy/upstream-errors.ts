import { constants } from 'node:os';
import type { Upstream } from './options.js';

/**
 * How nginx 1.22 words an upstream failure, by what failed and when. The texts were recorded
 * from the real nginx (test/fixtures/nginx-error-lines.txt); the built-in proxy writes exactly these.
 */

/** Where the exchange with the upstream was when it failed; picks nginx's `while …` clause. */
export type UpstreamPhase = 'connecting' | 'sending' | 'reading-header' | 'reading-body';

/** nginx's `while …` clause per phase. */
export const PHASE_CONTEXT: Readonly<Record<UpstreamPhase, string>> = {
  connecting: 'while connecting to upstream',
  sending: 'while sending request to upstream',
  'reading-header': 'while reading response header from upstream',
  'reading-body': 'while reading upstream',
};

/** One mapped failure: what the client gets, what the error log says, whether nginx would retry. */
export interface UpstreamFailure {
  /** 502 or 504 (only meaningful before the response head went to the client). */
  status: 502 | 504;
  level: 'crit' | 'error' | 'alert';
  /** The error-log message, without client/server/request fields. */
  message: string;
  /**
   * nginx's `proxy_next_upstream` class: `error` failures of a reused keep-alive connection are
   * retried on another connection, `timeout` ones are not (nginx only adds a try for cached
   * connections that failed with an error).
   */
  kind: 'error' | 'timeout' | 'invalid_header';
}

/** Linux `strerror()` texts for the errnos an upstream connection meets. */
const STRERROR: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory',
  EAGAIN: 'Resource temporarily unavailable',
  EACCES: 'Permission denied',
  ENFILE: 'Too many open files in system',
  EMFILE: 'Too many open files',
  EPIPE: 'Broken pipe',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENETDOWN: 'Network is down',
  ENETUNREACH: 'Network is unreachable',
  ECONNABORTED: 'Software caused connection abort',
  ECONNRESET: 'Connection reset by peer',
  ENOBUFS: 'No buffer space available',
  ETIMEDOUT: 'Connection timed out',
  ECONNREFUSED: 'Connection refused',
  EHOSTDOWN: 'Host is down',
  EHOSTUNREACH: 'No route to host',
};

/** `(111: Connection refused)` for an errno code name. */
export function renderErrno(code: string): string {
  const number = (constants.errno as Record<string, number | undefined>)[code];
  return `(${number ?? '?'}: ${STRERROR[code] ?? code})`;
}

/**
 * Errnos nginx logs at `[error]` when connect() fails; anything else is `[crit]`
 * (ngx_event_connect_peer: refused, EAGAIN on Linux unix sockets, reset, net/host unreachable).
 */
const CONNECT_ERR_LEVEL = new Set([
  'ECONNREFUSED',
  'EAGAIN',
  'ECONNRESET',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EHOSTUNREACH',
]);

/**
 * TCP connects are non-blocking: a refusal or unreachable host shows up later, and nginx words it
 * `connect() failed (…)` without the address. A unix-socket connect fails at once, and then, like
 * any synchronous failure, it is `connect() to ADDRESS failed (…)`.
 */
const TCP_ASYNC_CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
]);

/** What timed out, as the built-in proxy's timers report it. */
export type UpstreamTimeout = { timeout: UpstreamPhase };

/**
 * A response the built-in proxy's parser rejects, in nginx's words (`upstream sent …`). nginx's
 * `proxy_next_upstream` class for these is `invalid_header`, not in its default `error timeout`.
 */
export type UpstreamProtocolError = {
  protocol: 'no valid HTTP/1.0 header' | 'invalid header' | 'too big header' | 'invalid chunked response';
};

/** Maps a node socket/HTTP error (or one of our timers, or a rejected response) in `phase` to nginx's status and wording. */
export function mapUpstreamError(
  error: NodeJS.ErrnoException | UpstreamTimeout | UpstreamProtocolError,
  phase: UpstreamPhase,
  upstream: Upstream,
): UpstreamFailure {
  if ('timeout' in error) {
    return {
      status: 504,
      level: 'error',
      kind: 'timeout',
      message: `upstream timed out (110: Connection timed out) ${PHASE_CONTEXT[error.timeout]}`,
    };
  }
  if ('protocol' in error) {
    const where = phase === 'reading-body' ? PHASE_CONTEXT['reading-body'] : PHASE_CONTEXT['reading-header'];
    return { status: 502, level: 'error', kind: 'invalid_header', message: `upstream sent ${error.protocol} ${where}` };
  }
  const code = error.code ?? 'EIO';
  const context = PHASE_CONTEXT[phase];
  if (phase === 'connecting') {
    if (code === 'EMFILE' || code === 'ENFILE') {
      return { status: 502, level: 'alert', kind: 'error', message: `socket() failed ${renderErrno(code)} ${context}` };
    }
    const level = CONNECT_ERR_LEVEL.has(code) ? 'error' : 'crit';
    if (upstream.kind === 'tcp' && TCP_ASYNC_CONNECT_ERRORS.has(code)) {
      return { status: 502, level, kind: 'error', message: `connect() failed ${renderErrno(code)} ${context}` };
    }
    // `unix:/path` or `HOST:PORT` (`[::1]:8080`), as nginx names the peer.
    const address = upstream.kind === 'unix' ? upstream.url : upstream.url.replace(/^http:\/\//, '');
    return {
      status: 502,
      level,
      kind: 'error',
      message: `connect() to ${address} failed ${renderErrno(code)} ${context}`,
    };
  }
  // node's http client says `socket hang up` (code ECONNRESET, no syscall) when the upstream
  // closed with a FIN before the response was complete: nginx calls that a premature close.
  const prematureClose = error.message === 'socket hang up' || code === 'ECONNABORTED' || error.message === 'aborted';
  if (prematureClose && (phase === 'reading-header' || phase === 'reading-body' || phase === 'sending')) {
    const where = phase === 'reading-body' ? PHASE_CONTEXT['reading-body'] : PHASE_CONTEXT['reading-header'];
    return { status: 502, level: 'error', kind: 'error', message: `upstream prematurely closed connection ${where}` };
  }
  if (phase === 'sending' || error.syscall === 'write' || error.syscall === 'writev') {
    return {
      status: 502,
      level: 'error',
      kind: 'error',
      message: `writev() failed ${renderErrno(code)} ${PHASE_CONTEXT.sending}`,
    };
  }
  // nginx reads the header with recv() and the body with readv().
  const syscall = phase === 'reading-body' ? 'readv()' : 'recv()';
  return { status: 502, level: 'error', kind: 'error', message: `${syscall} failed ${renderErrno(code)} ${context}` };
}
