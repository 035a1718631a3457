import { stripErrorLogPrefix } from '../classify.js';
import type { ProxyLogFormat } from './types.js';

/**
 * The part of a proxy's log line that says what happened, without what varies from line to line
 * (time, client port, ids): nginx `[error] connect() … failed (111: Connection refused) while
 * connecting to upstream`; HAProxy `503 SC-- upstream/app "GET / HTTP/1.1"`; Caddy `502 dial unix
 * /run/app.sock: connect: connection refused`. For tables and the README's matrix.
 */
export function describeLogLine(line: string, format: ProxyLogFormat): string {
  switch (format) {
    case 'nginx':
      return stripErrorLogPrefix(line);
    case 'haproxy': {
      // … FRONTEND BACKEND/SERVER TIMERS STATUS BYTES CC CS TSC CONNS QUEUES "REQUEST"
      const m = /\] \S+ (\S+) \S+ (\d{3}) \S+ \S+ \S+ (\S{4}) \S+ \S+ (?:\{[^}]*\} )*("[^"]*")?/.exec(line);
      return m ? `${m[2]} ${m[3]} ${m[1]}${m[4] ? ` ${m[4]}` : ''}` : line;
    }
    case 'caddy':
    case 'traefik': {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        const status = o['status'] ?? o['DownstreamStatus'] ?? '';
        const msg =
          o['msg'] ??
          o['error'] ??
          (o['OriginStatus'] !== undefined ? `OriginStatus ${String(o['OriginStatus'])}` : '');
        return `${String(status)} ${String(msg)}`.trim();
      } catch {
        return line.replace(/^time="[^"]*" /, '');
      }
    }
    default:
      return line;
  }
}
