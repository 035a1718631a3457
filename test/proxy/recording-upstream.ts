/**
 * A raw-socket upstream that records every request it parses on each connection, for the
 * differential hygiene tests: what a proxy forwards is judged by what a strict HTTP/1.1 server
 * sees, byte for byte, not by what the proxy says it sent. Bytes that do not parse as a request
 * (leftovers of a smuggled body, a desynchronised connection) are recorded as `garbage`.
 */
import { createServer, type Socket } from 'node:net';

export interface SeenRequest {
  /** Connection serial (1, 2, …) and the request's place on it (1, 2, …). */
  conn: number;
  index: number;
  method: string;
  target: string;
  version: string;
  /** Header pairs as received (names as sent). */
  headers: [string, string][];
  /** The body, decoded from its framing (latin1). */
  body: string;
  /** `length` (Content-Length), `chunked`, or `none`. */
  framing: 'length' | 'chunked' | 'none';
}

/** What to answer a request with: raw bytes, then whether to close the connection. */
export interface RawReply {
  bytes: string | Buffer;
  close?: boolean;
  /** Answer after this long (ms). */
  delayMs?: number;
  /** Never answer (the proxy's read timeout ends it). */
  silent?: boolean;
}

export interface RecordingUpstream {
  /** `http://127.0.0.2:PORT` for the proxy. */
  upstream: string;
  readonly seen: SeenRequest[];
  /** Connections whose bytes did not parse, with what was left (latin1). */
  readonly garbage: { conn: number; bytes: string }[];
  /** Connections accepted so far, and those open now. */
  readonly accepted: number;
  readonly open: number;
  /** The connections open now. */
  readonly sockets: Socket[];
  /** Replies for requests whose target matches; others get {@link defaultReply}. */
  setReplies(replies: Map<string, RawReply>): void;
  /** Forgets what was seen (connections stay open: pooled ones are the point). */
  reset(): void;
  close(): Promise<void>;
}

/** `200 OK` whose body names the request: `seen GET /x #conn.index`. */
export function defaultReply(req: SeenRequest): RawReply {
  const body = `seen ${req.method} ${req.target} #${req.conn}.${req.index}`;
  return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}` };
}

const HEAD_END = /\r?\n\r?\n/;
const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/(1\.[01])$/;

/** Parses one request at the start of `buf` (latin1); `undefined` = need more, `null` = garbage. */
function parseRequest(buf: string): { req: Omit<SeenRequest, 'conn' | 'index'>; used: number } | undefined | null {
  const m = HEAD_END.exec(buf);
  if (!m) return buf.length > 256 * 1024 ? null : undefined;
  const lines = buf.slice(0, m.index).split(/\r?\n/);
  const line = REQUEST_LINE.exec(lines[0]!);
  if (!line) return null;
  const headers: [string, string][] = [];
  for (const l of lines.slice(1)) {
    const colon = l.indexOf(':');
    if (colon <= 0 || /[\s]/.test(l.slice(0, colon))) return null;
    headers.push([l.slice(0, colon), l.slice(colon + 1).trim()]);
  }
  const get = (name: string): string[] => headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
  const cl = get('content-length');
  const te = get('transfer-encoding');
  let at = m.index + m[0].length;
  let body = '';
  let framing: SeenRequest['framing'] = 'none';
  if (te.length > 0) {
    // A strict server: only a single `chunked`, and never together with Content-Length.
    if (cl.length > 0 || te.length > 1 || te[0]!.toLowerCase() !== 'chunked') return null;
    framing = 'chunked';
    for (;;) {
      const eol = buf.indexOf('\r\n', at);
      if (eol < 0) return undefined;
      const size = /^([0-9a-fA-F]{1,8})(?:;.*)?$/.exec(buf.slice(at, eol));
      if (!size) return null;
      const n = parseInt(size[1]!, 16);
      at = eol + 2;
      if (n === 0) {
        // Trailers until an empty line.
        for (;;) {
          const end = buf.indexOf('\r\n', at);
          if (end < 0) return undefined;
          const empty = end === at;
          at = end + 2;
          if (empty) break;
        }
        break;
      }
      if (buf.length < at + n + 2) return undefined;
      if (buf.slice(at + n, at + n + 2) !== '\r\n') return null;
      body += buf.slice(at, at + n);
      at += n + 2;
    }
  } else if (cl.length > 0) {
    if (cl.length > 1 || !/^\d+$/.test(cl[0]!)) return null;
    framing = 'length';
    const n = Number(cl[0]);
    if (buf.length < at + n) return undefined;
    body = buf.slice(at, at + n);
    at += n;
  }
  return { req: { method: line[1]!, target: line[2]!, version: line[3]!, headers, body, framing }, used: at };
}

/**
 * Starts the recording upstream on a free port of 127.0.0.2: a loopback address of its own, so a
 * request some other test on this machine sends to a port it believes closed on 127.0.0.1 can never
 * land here and be counted as something a proxy forwarded.
 */
export async function startRecordingUpstream(host = '127.0.0.2'): Promise<RecordingUpstream> {
  const seen: SeenRequest[] = [];
  const garbage: { conn: number; bytes: string }[] = [];
  const sockets = new Set<Socket>();
  let replies = new Map<string, RawReply>();
  let accepted = 0;
  const server = createServer((socket) => {
    const conn = ++accepted;
    sockets.add(socket);
    let index = 0;
    let buffered = '';
    // Requests are answered in order; a delayed or silent reply holds the ones behind it.
    let queue = Promise.resolve();
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      buffered += chunk;
      for (;;) {
        if (buffered === '') return;
        const parsed = parseRequest(buffered);
        if (parsed === undefined) return;
        if (parsed === null) {
          garbage.push({ conn, bytes: buffered });
          buffered = '';
          socket.destroy();
          return;
        }
        buffered = buffered.slice(parsed.used);
        const req: SeenRequest = { conn, index: ++index, ...parsed.req };
        seen.push(req);
        const reply = replies.get(req.target) ?? defaultReply(req);
        queue = queue.then(async () => {
          if (reply.silent) return new Promise<void>(() => {});
          if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
          if (socket.destroyed) return;
          socket.write(reply.bytes);
          if (reply.close) socket.end();
        });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    upstream: `http://${host}:${port}`,
    seen,
    garbage,
    get accepted() {
      return accepted;
    },
    get open() {
      return sockets.size;
    },
    get sockets() {
      return [...sockets];
    },
    setReplies(next) {
      replies = next;
    },
    reset() {
      seen.length = 0;
      garbage.length = 0;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
