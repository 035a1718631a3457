/**
 * What nginx 1.22 refuses in a request, and how it words it, for a proxy that parses requests
 * with node's llhttp and must not forward what nginx would not: the request-target (origin- or
 * absolute-form, never a path above `/`), the Host header (one, valid), Transfer-Encoding (only
 * `chunked`, never in HTTP/1.0), and nginx's size and count limits. Each check returns a
 * {@link RequestRejection} (status + nginx's error-log words) or the facts the proxy forwards.
 * Recorded against nginx 1.22.1 (Debian) by test/proxy/hygiene.test.ts.
 */

/** Where nginx was when it refused: the `while …` clause of its error-log line. */
export type RequestStage = 'request line' | 'request headers' | 'request body';

/** A request nginx refuses: the status it answers and the words it logs at `info`. */
export interface RequestRejection {
  status: 400 | 408 | 413 | 414 | 501 | 505;
  /** e.g. `client sent invalid host header` */
  message: string;
  /** `undefined` where nginx logs no `while …` clause (an invalid chunked body). */
  stage: RequestStage | undefined;
}

/** nginx's limits (Debian's nginx 1.22.1: `large_client_header_buffers 4 8k`, `max_headers 1000`). */
export const REQUEST_LIMITS = {
  /** A request line or header line longer than one large buffer (8 KiB) is refused. */
  maxLineBytes: 8192,
  /** Header lines per request (Debian's backported `max_headers`, default 1000). */
  maxHeaders: 1000,
  /** The whole head (4 × 8 KiB buffers). */
  maxHeadBytes: 4 * 8192,
} as const;

const reject = (
  status: RequestRejection['status'],
  message: string,
  stage: RequestStage | undefined,
): RequestRejection => ({ status, message, stage });

/** The error-log message nginx writes for a rejection: `client sent … while reading client request headers`. */
export function renderRejection(r: RequestRejection): string {
  return r.stage === undefined ? r.message : `${r.message} while reading client ${r.stage}`;
}

/** A request-target as the proxy forwards it. */
export interface RequestTarget {
  /** Origin-form: `/path?query`, as the client wrote it (absolute-form loses its scheme and authority). */
  path: string;
  /** The authority of an absolute-form target (`other.example:8080`), which replaces Host (RFC 9112 §3.2.2). */
  authority: string | undefined;
}

const HEX = /^[0-9a-fA-F]{2}$/;

/**
 * nginx's complex-URI check on the path (before `?`): `%XX` escapes decoded (an invalid one or a
 * NUL is refused), `.` and `..` segments resolved, and a `..` that would climb above `/` refused.
 * The path is forwarded as written; this only decides whether nginx would accept it.
 */
function pathIsSafe(path: string): boolean {
  let decoded = path;
  if (path.includes('%')) {
    decoded = '';
    for (let i = 0; i < path.length; i++) {
      const c = path[i]!;
      if (c !== '%') {
        decoded += c;
        continue;
      }
      const hex = path.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return false;
      const code = parseInt(hex, 16);
      if (code === 0) return false;
      decoded += String.fromCharCode(code);
      i += 2;
    }
  }
  if (!decoded.includes('/.')) return true;
  let depth = 0;
  for (const segment of decoded.split('/').slice(1)) {
    if (segment === '..') {
      if (depth === 0) return false;
      depth--;
    } else if (segment !== '.' && segment !== '') {
      depth++;
    }
  }
  return true;
}

/** The target node's parser gave (`req.url`), checked as nginx checks it. */
export function parseRequestTarget(url: string, method: string): RequestTarget | RequestRejection {
  // `METHOD SP target SP HTTP/x.y`: nginx's large buffer must hold the whole request line.
  if (url.length + method.length + 10 > REQUEST_LIMITS.maxLineBytes)
    return reject(414, 'client sent too long URI', 'request line');
  let path = url;
  let authority: string | undefined;
  if (url.charCodeAt(0) !== 47 /* / */) {
    const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)(.*)$/.exec(url);
    if (!absolute || absolute[1] === '' || absolute[1]!.includes('@'))
      return reject(400, 'client sent invalid request', 'request line');
    authority = absolute[1]!;
    path = absolute[2] === '' ? '/' : absolute[2]!;
    if (path.charCodeAt(0) !== 47) path = `/${path}`;
  }
  const query = path.indexOf('?');
  if (!pathIsSafe(query < 0 ? path : path.slice(0, query)))
    return reject(400, 'client sent invalid request', 'request line');
  return { path, authority };
}

/**
 * nginx's `ngx_http_validate_host`: no `/`, NUL, control byte or space, no empty label (`a..b`),
 * brackets only around an IPv6 literal; a trailing dot is dropped. Returns the host to use, or
 * undefined when nginx answers 400 `client sent invalid host header`.
 */
export function validateHost(value: string): string | undefined {
  let host = value;
  let dot = -2;
  let literal = false;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 0x2e /* . */) {
      if (dot === i - 1) return undefined;
      dot = i;
    } else if (c === 0x5b /* [ */) {
      if (i !== 0) return undefined;
      literal = true;
    } else if (c === 0x5d /* ] */) {
      if (!literal) return undefined;
      literal = false;
    } else if (c === 0x2f /* / */ || c === 0x5c /* \ */ || c <= 0x20 || c === 0x7f) {
      return undefined;
    }
  }
  if (literal) return undefined;
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host === '' || host.startsWith(':') ? undefined : host;
}

/** The header facts a proxy needs, gathered in one pass over node's `rawHeaders`. */
export interface RequestHeaderFacts {
  host: string | undefined;
  connection: string | undefined;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
  forwardedFor: string | undefined;
  referer: string | undefined;
  userAgent: string | undefined;
  /** Header names nginx drops (`_` in the name, with `underscores_in_headers off`), lowercase. */
  dropped: string[];
}

/**
 * One pass over `rawHeaders` (`[name, value, …]`): nginx's header-count and line-length limits,
 * one Host and a valid one, Transfer-Encoding only `chunked` and not in HTTP/1.0. llhttp has
 * already refused what it refuses (two Content-Lengths, Content-Length with Transfer-Encoding,
 * bad lengths, bare CR, obs-fold).
 */
export function checkRequestHeaders(
  rawHeaders: readonly string[],
  httpVersion: string,
): RequestHeaderFacts | RequestRejection {
  if (rawHeaders.length / 2 > REQUEST_LIMITS.maxHeaders)
    return reject(400, 'client sent too many header lines', 'request headers');
  const facts: RequestHeaderFacts = {
    host: undefined,
    connection: undefined,
    contentLength: undefined,
    transferEncoding: undefined,
    forwardedFor: undefined,
    referer: undefined,
    userAgent: undefined,
    dropped: [],
  };
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (name.length + value.length + 2 > REQUEST_LIMITS.maxLineBytes) {
      return reject(400, `client sent too long header line: "${name}: ${value.slice(0, 256)}..."`, 'request headers');
    }
    switch (name.toLowerCase()) {
      case 'host':
        if (facts.host !== undefined)
          return reject(
            400,
            `client sent duplicate host header: "${name}: ${value}", previous value: "Host: ${facts.host}"`,
            'request headers',
          );
        facts.host = value;
        break;
      case 'connection':
        facts.connection = facts.connection === undefined ? value : `${facts.connection}, ${value}`;
        break;
      case 'content-length':
        facts.contentLength = value;
        break;
      case 'transfer-encoding':
        facts.transferEncoding = value;
        break;
      case 'x-forwarded-for':
        facts.forwardedFor = facts.forwardedFor === undefined ? value : `${facts.forwardedFor}, ${value}`;
        break;
      case 'referer':
        facts.referer ??= value;
        break;
      case 'user-agent':
        facts.userAgent ??= value;
        break;
      default:
        if (name.includes('_')) facts.dropped.push(name.toLowerCase());
    }
  }
  if (facts.host !== undefined && validateHost(facts.host) === undefined)
    return reject(400, 'client sent invalid host header', 'request headers');
  if (facts.transferEncoding !== undefined) {
    if (httpVersion === '1.0')
      return reject(400, 'client sent HTTP/1.0 request with "Transfer-Encoding" header', 'request headers');
    if (facts.transferEncoding.toLowerCase() !== 'chunked')
      return reject(501, `client sent unknown "Transfer-Encoding": "${facts.transferEncoding}"`, 'request headers');
  }
  return facts;
}

/** An llhttp error (`clientError`'s `err`): its code and the bytes it had (`rawPacket`). */
export interface ParserError {
  code?: string;
  rawPacket?: Buffer;
}

/**
 * What nginx answers to a request node's parser refused, judged from the error code and the raw
 * bytes: 505 for a version above 1, 501 for an unknown Transfer-Encoding, 414 for a request line
 * past 8 KiB, 400 otherwise, with nginx's wording.
 */
export function rejectParserError(err: ParserError): RequestRejection {
  const raw = err.rawPacket?.toString('latin1') ?? '';
  const lineEnd = raw.indexOf('\n');
  const requestLine = lineEnd < 0 ? raw : raw.slice(0, lineEnd);
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return lineEnd < 0 || requestLine.length > REQUEST_LIMITS.maxLineBytes
        ? reject(414, 'client sent too long URI', 'request line')
        : reject(400, 'client sent too large request', 'request headers');
    case 'HPE_INVALID_VERSION':
      return /HTTP\/[2-9]/.test(requestLine)
        ? reject(505, 'client sent invalid version', 'request line')
        : reject(400, 'client sent invalid request', 'request line');
    case 'HPE_INVALID_METHOD':
      return reject(400, 'client sent invalid method', 'request line');
    case 'HPE_INVALID_TRANSFER_ENCODING': {
      // llhttp says this for a second Transfer-Encoding and for one beside Content-Length too.
      const te = [...raw.matchAll(/\r?\ntransfer-encoding:[ \t]*([^\r\n]*)/gi)].map((m) => m[1]!.trim());
      if (te.length > 1)
        return reject(
          400,
          `client sent duplicate header line: "Transfer-Encoding: ${te[1]}", previous value: "Transfer-Encoding: ${te[0]}"`,
          'request headers',
        );
      if (/\r?\ncontent-length:/i.test(raw))
        return reject(
          400,
          'client sent "Content-Length" and "Transfer-Encoding" headers at the same time',
          'request headers',
        );
      return reject(501, `client sent unknown "Transfer-Encoding": "${te[0] ?? ''}"`, 'request headers');
    }
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return reject(
        400,
        'client sent "Content-Length" and "Transfer-Encoding" headers at the same time',
        'request headers',
      );
    case 'HPE_INVALID_CONTENT_LENGTH':
      return reject(400, 'client sent invalid "Content-Length" header', 'request headers');
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return reject(400, 'client sent invalid chunked body', undefined);
    case 'HPE_INVALID_URL':
      return reject(400, 'client sent invalid request', 'request line');
    default:
      return reject(400, 'client sent invalid header line', 'request headers');
  }
}

const NEEDS_ESCAPE = /[\x00-\x1f"\\\x7f-\uffff]/;

/**
 * A value as nginx writes it into a log (`escape=default`): `"`, `\`, control bytes and bytes
 * ≥ 0x7f as `\xHH`, so no request can forge a field, a line or a terminal escape in the log.
 * Strings here are latin1 (one char per byte, as node gives request lines and headers).
 */
export function escapeLogValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f) {
      // A char past 0xff (never from the network) is written as its UTF-8 bytes.
      const bytes = c > 0xff ? Buffer.from(value[i]!, 'utf8') : [c];
      for (const b of bytes) out += `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;
    } else {
      out += value[i];
    }
  }
  return out;
}
