import type { FastClassification } from '../classify.js';
import { goErrorUpstream } from './caddy.js';
import { matchGoError } from './go-errors.js';
import { fillFailure as fill } from './fill.js';
import { fromIsoTime } from './time.js';
import { LINE, type FormatClassifier, type LineKind } from './types.js';

/*
 * Traefik writes two kinds of lines that matter here:
 *
 * - its JSON access log (https://doc.traefik.io/traefik/observability/access-logs/): one object per
 *   request with `OriginStatus` (what the backend answered, 0 when it sent no response),
 *   `DownstreamStatus` (what the client got), `ServiceAddr`/`ServiceURL`, `StartUTC`,
 *   `request_User-Agent` when headers are kept. `OriginStatus 0` with a 502/504 downstream is
 *   Traefik's own answer; an equal origin and downstream 5xx is the app's.
 * - its debug log, which says why (pkg/proxy/httputil/proxy.go, ErrorHandler): v2 logfmt
 *   `level=debug msg="'502 Bad Gateway' caused by: dial tcp …: connect: connection refused"` or the
 *   same in JSON, v3 `{"level":"debug","error":"dial tcp …","message":"502 Bad Gateway"}` — Go
 *   errors, read with the same table as Caddy's.
 */

const HEALTH_CHECKERS = /^(?:ELB-HealthChecker|kube-probe|GoogleHC|Envoy\/HC|Traefik)/;

function parseObject(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function accessLine(o: Record<string, unknown>, into: FastClassification): LineKind {
  const origin = Number(o['OriginStatus'] ?? 0);
  const downstream = Number(o['DownstreamStatus']);
  if (!Number.isInteger(downstream)) return LINE.FOREIGN;
  const ua = typeof o['request_User-Agent'] === 'string' ? o['request_User-Agent'] : '';
  if (HEALTH_CHECKERS.test(ua)) return LINE.HEALTH_CHECK;
  if (downstream === 499) return LINE.CLIENT_ABORT;
  if (downstream < 500) return LINE.OK;
  if (origin !== 0) return LINE.APP_ERROR;
  const time = fromIsoTime(
    typeof o['StartUTC'] === 'string' ? o['StartUTC'] : typeof o['time'] === 'string' ? o['time'] : '',
  );
  const addr = typeof o['ServiceAddr'] === 'string' && o['ServiceAddr'] !== '' ? o['ServiceAddr'] : null;
  if (downstream === 503 && addr === null)
    return fill(
      into,
      'traefik-no-server',
      downstream,
      time,
      typeof o['ServiceName'] === 'string' ? o['ServiceName'] : null,
    );
  if (downstream === 502) return fill(into, 'traefik-502-no-response', downstream, time, addr);
  if (downstream === 504) return fill(into, 'traefik-504-no-response', downstream, time, addr);
  return fill(into, undefined, downstream, time, addr);
}

/** `'502 Bad Gateway' caused by: <err>` (v2) or `error` + `message: "502 Bad Gateway"` (v3). */
function debugLine(status: number, error: string, time: string, into: FastClassification): LineKind {
  const kind = matchGoError(error);
  return fill(into, kind ? `traefik-${kind.kind}` : undefined, status, time, goErrorUpstream(error));
}

const CAUSED_BY = /'(\d{3}) [^']*' caused by: (.*)$/;

/** Creates the Traefik classifier. */
export function createTraefikClassifier(): FormatClassifier {
  return {
    format: 'traefik',
    classify(line, into) {
      if (line.charCodeAt(0) === 123 /* { */) {
        const access = line.includes('"DownstreamStatus"');
        const debug =
          !access && line.includes('"level":"debug"') && (line.includes('caused by: ') || line.includes('"error":'));
        if (!access && !debug) return LINE.FOREIGN;
        const o = parseObject(line);
        if (!o) return LINE.FOREIGN;
        if (access) return accessLine(o, into);
        const time = fromIsoTime(typeof o['time'] === 'string' ? o['time'] : '');
        const msg = typeof o['msg'] === 'string' ? o['msg'] : '';
        const v2 = CAUSED_BY.exec(msg);
        if (v2) return debugLine(Number(v2[1]), v2[2]!, time, into);
        const v3 = /^(\d{3}) /.exec(typeof o['message'] === 'string' ? o['message'] : '');
        if (v3 && typeof o['error'] === 'string' && Number(v3[1]) >= 500)
          return debugLine(Number(v3[1]), o['error'], time, into);
        return LINE.OK;
      }
      // v2 logfmt: time="2026-11-30T21:50:28Z" level=debug msg="'502 Bad Gateway' caused by: …"
      if (!line.startsWith('time="')) return LINE.FOREIGN;
      const msgAt = line.indexOf(' msg="');
      if (msgAt === -1) return LINE.FOREIGN;
      const m = CAUSED_BY.exec(
        line
          .slice(msgAt + 6)
          .replace(/"$/, '')
          .replace(/\\"/g, '"'),
      );
      if (!m) return LINE.OK;
      return debugLine(Number(m[1]), m[2]!, fromIsoTime(line.slice(6, 26)), into);
    },
  };
}
