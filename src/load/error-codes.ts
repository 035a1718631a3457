import { errnoCode } from '../errors/index.js';

/**
 * Stable codes for failed requests (errors are data: counted per code, never thrown). System
 * errors keep their errno name (`ECONNREFUSED`, `ECONNRESET`, `EAGAIN`, `EPIPE`, `ENOENT`,
 * `ETIMEDOUT`, …); undici's own errors are mapped to the names below.
 */
export const LOAD_ERROR_CODES = {
  /** No response within `timeoutMs` (counted from when the request was handed to the pool). */
  TIMEOUT: 'TIMEOUT',
  /** undici's connect timeout fired (SYNs unanswered: a full TCP accept queue drops them). */
  CONNECT_TIMEOUT: 'CONNECT_TIMEOUT',
  /** The server closed the connection (FIN) before a complete response — nginx says "upstream prematurely closed connection". */
  CLOSED: 'CLOSED',
  /** The response could not be parsed, or its length did not match. */
  BAD_RESPONSE: 'BAD_RESPONSE',
  /** The run was interrupted while the request was in flight. */
  CANCELED: 'CANCELED',
  /** Anything else (the error's own code when it has one). */
  UNKNOWN: 'UNKNOWN',
} as const;

/**
 * A failed request's code: one of {@link LOAD_ERROR_CODES}, a system errno name
 * (`ECONNREFUSED`, …), or Node's / undici's own code for what has no name of ours yet.
 */
export type LoadErrorCode =
  | (typeof LOAD_ERROR_CODES)[keyof typeof LOAD_ERROR_CODES]
  | `E${string}`
  | `ERR_${string}`
  | `UND_ERR_${string}`;

const ERRNO = /^E[A-Z0-9]+$/;
const OURS = new Set<string>(Object.values(LOAD_ERROR_CODES));
const FOREIGN = /^(?:E[A-Z0-9]+|ERR_[A-Z0-9_]+|UND_ERR_[A-Z0-9_]+)$/;

/**
 * `code` as a {@link LoadErrorCode}; anything else is `UNKNOWN`. Result files are input too: a
 * code read from one never carries arbitrary text (or a terminal escape) into a report.
 */
export function toLoadErrorCode(code: string): LoadErrorCode {
  return OURS.has(code) || FOREIGN.test(code) ? (code as LoadErrorCode) : LOAD_ERROR_CODES.UNKNOWN;
}

/**
 * Maps an error from undici or Node to a stable code. What undici 7 reports on Linux (measured):
 * refused port → `ECONNREFUSED`; RST before or during the response → `ECONNRESET`; FIN before a
 * complete response → `UND_ERR_SOCKET` "other side closed" (→ `CLOSED`); full unix-socket backlog
 * → `EAGAIN`; missing socket file → `ENOENT`.
 */
export function classifyError(err: unknown): LoadErrorCode {
  let code = errnoCode(err);
  // undici wraps some socket errors; the underlying errno says more than the wrapper.
  const causeCode = errnoCode((err as { cause?: unknown } | null)?.cause);
  if (code === 'UND_ERR_SOCKET' && causeCode !== undefined && ERRNO.test(causeCode)) code = causeCode;
  switch (code) {
    case undefined:
      return (err as { name?: unknown } | null)?.name === 'TimeoutError'
        ? LOAD_ERROR_CODES.TIMEOUT
        : LOAD_ERROR_CODES.UNKNOWN;
    case 'UND_ERR_SOCKET':
      return LOAD_ERROR_CODES.CLOSED;
    case 'UND_ERR_CONNECT_TIMEOUT':
      return LOAD_ERROR_CODES.CONNECT_TIMEOUT;
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ABORT_ERR':
      return LOAD_ERROR_CODES.TIMEOUT;
    case 'UND_ERR_ABORTED':
    case 'UND_ERR_DESTROYED':
    case 'UND_ERR_CLOSED':
      return LOAD_ERROR_CODES.CANCELED;
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
    case 'UND_ERR_INFO':
      return LOAD_ERROR_CODES.BAD_RESPONSE;
    default:
      if (code.startsWith('HPE_')) return LOAD_ERROR_CODES.BAD_RESPONSE;
      return toLoadErrorCode(code); // the raw engine's own codes among them
  }
}
