import { request, Agent } from 'node:http';

/** What an upstream says about keep-alive in its response headers. */
export interface KeepAliveProbe {
  /** `http://127.0.0.1:8080/` or `unix:/run/app.sock`. */
  url: string;
  /** HTTP status of the probe request, null when it failed. */
  status: number | null;
  /** `Connection` response header. */
  connection: string | null;
  /** `timeout=N` of the `Keep-Alive` response header, seconds; null when absent. */
  keepAliveTimeoutS: number | null;
  /** Why the probe failed (ECONNREFUSED, timeout …). */
  error: string | null;
}

/** Parses `timeout=5, max=100` → 5; null when absent or malformed. */
export function parseKeepAliveTimeout(header: string | undefined): number | null {
  if (!header) return null;
  const m = /(?:^|[,;\s])timeout\s*=\s*(\d+(?:\.\d+)?)/i.exec(header);
  return m ? Number(m[1]) : null;
}

/**
 * Sends one `GET /` with keep-alive to a TCP address or unix socket and reads the server's
 * `Keep-Alive: timeout=N` (Node's http server sends its keepAliveTimeout this way). Never throws;
 * bounded by `timeoutMs`; the connection is closed afterwards.
 */
export function probeKeepAlive(
  target: { host: string; port: number } | { unixSocket: string },
  { timeoutMs = 1000, signal }: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<KeepAliveProbe> {
  const url =
    'unixSocket' in target
      ? `unix:${target.unixSocket}`
      : `http://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}/`;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise((resolve) => {
    let done = false;
    const finish = (probe: Omit<KeepAliveProbe, 'url'>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      agent.destroy();
      resolve({ url, ...probe });
    };
    const req = request(
      {
        ...('unixSocket' in target ? { socketPath: target.unixSocket } : { host: target.host, port: target.port }),
        path: '/',
        method: 'GET',
        agent,
        headers: { 'user-agent': 'badgateway-doctor', connection: 'keep-alive' },
        ...(signal ? { signal } : {}),
      },
      (res) => {
        res.resume();
        const ka = res.headers['keep-alive'];
        finish({
          status: res.statusCode ?? null,
          connection: res.headers.connection ?? null,
          keepAliveTimeoutS: parseKeepAliveTimeout(Array.isArray(ka) ? ka[0] : ka),
          error: null,
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish({ status: null, connection: null, keepAliveTimeoutS: null, error: `no response within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) =>
      finish({ status: null, connection: null, keepAliveTimeoutS: null, error: err.code ?? err.message }),
    );
    req.end();
  });
}
