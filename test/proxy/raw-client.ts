/**
 * A client that writes raw bytes (hostile ones included) on one TCP connection and reads every
 * response that comes back, interim ones too: what node's http client would refuse to send or
 * hide, this sends and shows.
 */
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: [string, string][];
  body: string;
  /** The body ended by its framing (not cut by a close). */
  complete: boolean;
}

export interface RawExchange {
  /** Every response in order, 1xx included. */
  responses: RawResponse[];
  /** The server closed the connection (FIN or reset) before we did. */
  closed: boolean;
  /** Bytes after the last parsed response that did not form one. */
  rest: string;
}

/** A piece to write, or a pause between two writes. */
export type Part = string | Buffer | { waitMs: number } | { waitFor100: true };

export interface ExchangeOptions {
  /** Final (non-1xx) responses to wait for before ending. Default 1. */
  expect?: number;
  /** Request methods in order, so HEAD responses are read without a body. */
  methods?: string[];
  /** Give up after this long. Default 3000 ms. */
  timeoutMs?: number;
  /** After the expected responses, how long to keep reading for more. Default 50 ms. */
  lingerMs?: number;
}

/** Parses as many complete responses as `buf` holds; `atEnd` when the connection closed. */
function parseResponses(buf: string, methods: string[], atEnd: boolean): { responses: RawResponse[]; rest: string } {
  const responses: RawResponse[] = [];
  let finals = 0;
  for (;;) {
    const m = /\r?\n\r?\n/.exec(buf);
    if (!m) break;
    const lines = buf.slice(0, m.index).split(/\r?\n/);
    const status = /^HTTP\/\d\.\d (\d{3})/.exec(lines[0]!);
    if (!status) break;
    const headers: [string, string][] = lines.slice(1).map((l) => {
      const colon = l.indexOf(':');
      return [l.slice(0, colon), l.slice(colon + 1).trim()];
    });
    const code = Number(status[1]);
    const get = (n: string): string | undefined => headers.find(([k]) => k.toLowerCase() === n)?.[1];
    let at = m.index + m[0].length;
    let body = '';
    let complete = true;
    const noBody = code < 200 || code === 204 || code === 304 || methods[finals] === 'HEAD';
    if (noBody) {
      // no body
    } else if (get('transfer-encoding')?.toLowerCase() === 'chunked') {
      complete = false;
      for (;;) {
        const eol = buf.indexOf('\r\n', at);
        if (eol < 0) break;
        const n = parseInt(buf.slice(at, eol), 16);
        if (!Number.isFinite(n)) break;
        if (n === 0) {
          const end = buf.indexOf('\r\n\r\n', eol);
          if (end < 0 && buf.slice(eol, eol + 4) !== '\r\n\r\n') break;
          at = end + 4;
          complete = true;
          break;
        }
        if (buf.length < eol + 2 + n + 2) break;
        body += buf.slice(eol + 2, eol + 2 + n);
        at = eol + 2 + n + 2;
      }
      if (!complete) {
        if (!atEnd) break;
        responses.push({ status: code, headers, body, complete });
        return { responses, rest: '' };
      }
    } else if (get('content-length') !== undefined) {
      const n = Number(get('content-length'));
      if (buf.length < at + n) {
        if (!atEnd) break;
        responses.push({ status: code, headers, body: buf.slice(at), complete: false });
        return { responses, rest: '' };
      }
      body = buf.slice(at, at + n);
      at += n;
    } else {
      if (!atEnd) break;
      body = buf.slice(at);
      at = buf.length;
    }
    responses.push({ status: code, headers, body, complete });
    if (code >= 200) finals++;
    buf = buf.slice(at);
  }
  return { responses, rest: buf };
}

/** Writes `parts` to 127.0.0.1:`port` and reads the responses (see {@link ExchangeOptions}). */
export function rawExchange(port: number, parts: readonly Part[], options: ExchangeOptions = {}): Promise<RawExchange> {
  const { expect = 1, methods = [], timeoutMs = 3000, lingerMs = 50 } = options;
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buf = '';
    let closed = false;
    let done = false;
    let linger: NodeJS.Timeout | undefined;
    let on100: (() => void) | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(linger);
      socket.destroy();
      resolve({ ...parseResponses(buf, methods, closed), closed });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const { responses } = parseResponses(buf, methods, false);
      if (on100 && responses.some((r) => r.status === 100)) on100();
      if (responses.filter((r) => r.status >= 200).length >= expect && !linger) linger = setTimeout(finish, lingerMs);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('connect', async () => {
      for (const part of parts) {
        if (done) return;
        if (typeof part === 'object' && 'waitMs' in part) await new Promise((r) => setTimeout(r, part.waitMs));
        else if (typeof part === 'object' && 'waitFor100' in part) {
          await new Promise<void>((r) => {
            on100 = r;
            setTimeout(r, 1000);
          });
        } else socket.write(part as string | Buffer, 'latin1');
      }
    });
  });
}
