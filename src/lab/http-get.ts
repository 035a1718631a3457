import { request } from 'node:http';

/** GETs `path` from an upstream (`http://HOST:PORT` or `unix:/path`) directly; resolves to status and body. */
export function httpGet(url: string, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  const target = url.startsWith('unix:')
    ? { socketPath: url.slice('unix:'.length) }
    : (() => {
        const u = new URL(url);
        return { host: u.hostname, port: Number(u.port) };
      })();
  return new Promise((resolve, reject) => {
    const req = request(
      { ...target, path, method: 'GET', agent: false, headers: { connection: 'close' }, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
