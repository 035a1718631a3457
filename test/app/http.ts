import http from 'node:http';
import net from 'node:net';

/** Options of node:http for a demo app url (`http://host:port` or `unix:/path`). */
function target(url: string, path: string): http.RequestOptions {
  if (url.startsWith('unix:')) return { socketPath: url.slice('unix:'.length), path };
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port), path };
}

export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** GET `path` on a demo app; rejects with the client error (its `code`). */
export function get(url: string, path: string, agent: http.Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ ...target(url, path), agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('client timeout')));
  });
}

/** GET and parse a JSON body. */
export async function getJson<T = Record<string, unknown>>(
  url: string,
  path: string,
  agent: http.Agent | false = false,
): Promise<{ status: number; json: T }> {
  const r = await get(url, path, agent);
  return { status: r.status, json: JSON.parse(r.body) as T };
}

/** A raw connection to a demo app url. */
export function connectRaw(url: string): net.Socket {
  if (url.startsWith('unix:')) return net.connect({ path: url.slice('unix:'.length) });
  const u = new URL(url);
  return net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) });
}

/** What a raw client that sends nothing sees of a new connection. */
export interface RawOutcome {
  connected: boolean;
  /** Bytes the server sent. */
  bytes: number;
  /** The server closed with a FIN ('end'). */
  fin: boolean;
  /** Error code, if any (ECONNRESET, EAGAIN, ECONNREFUSED …). */
  error: string | null;
  /** The socket was still open when we gave up waiting. */
  open: boolean;
}

/** Connects, sends nothing, and watches for `waitMs` (or until the socket closes). */
export function watchRaw(url: string, waitMs: number): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const s = connectRaw(url);
    const out: RawOutcome = { connected: false, bytes: 0, fin: false, error: null, open: false };
    s.on('connect', () => (out.connected = true));
    s.on('data', (d: Buffer) => (out.bytes += d.length));
    s.on('end', () => (out.fin = true));
    s.on('error', (e: NodeJS.ErrnoException) => (out.error = e.code ?? e.message));
    const timer = setTimeout(() => {
      out.open = !s.destroyed;
      s.destroy();
    }, waitMs);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/**
 * Sends one keep-alive request on a raw socket, reads the response, then stays idle; resolves
 * with how long after the response the server closed it, or `null` if still open after `waitMs`.
 * `onAnswered` runs when the response head has arrived: from then on the connection is idle.
 */
export function idleKeepAlive(
  url: string,
  waitMs: number,
  onAnswered?: () => void,
): Promise<{ status: string; closedAfterMs: number | null }> {
  return new Promise((resolve, reject) => {
    const s = connectRaw(url);
    let head = '';
    let answeredAt = 0;
    let timer: NodeJS.Timeout | undefined;
    s.on('connect', () => s.write('GET / HTTP/1.1\r\nHost: demo\r\nConnection: keep-alive\r\n\r\n'));
    s.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      if (answeredAt === 0 && head.includes('\r\n\r\n')) {
        answeredAt = Date.now();
        onAnswered?.();
        timer = setTimeout(() => {
          s.removeAllListeners('close');
          s.destroy();
          resolve({ status: head.split('\r\n')[0] ?? '', closedAfterMs: null });
        }, waitMs);
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      if (answeredAt === 0) return reject(new Error(`closed before answering: ${JSON.stringify(head)}`));
      resolve({ status: head.split('\r\n')[0] ?? '', closedAfterMs: Date.now() - answeredAt });
    });
  });
}
