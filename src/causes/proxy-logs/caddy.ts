import type { FastClassification } from '../classify.js';
import { matchGoError } from './go-errors.js';
import { fillFailure } from './fill.js';
import { fromEpochSeconds } from './time.js';
import { LINE, type FormatClassifier, type LineKind } from './types.js';

/*
 * Caddy 2's JSON log (https://caddyserver.com/docs/logging): one object per line,
 * `{"level":"error","ts":1796075345.01,"logger":"http.log.error","msg":"dial unix /run/app.sock:
 * connect: resource temporarily unavailable","request":{…},"duration":0.0004,"status":502,…}`.
 * The reverse proxy's failures are the `http.log.error` lines (the Go error text in `msg`, the
 * status the client got in `status`) and the handler's `aborting with incomplete response` once a
 * response had started. Access lines (`http.log.access`) carry the status but not why: they count
 * as Caddy lines, the cause comes from the error line of the same request.
 */

/** A Caddy log line: a JSON object with Caddy's `level` and `ts` keys. */
function looksLikeCaddy(line: string): boolean {
  return line.charCodeAt(0) === 123 /* { */ && line.startsWith('{"level":"') && line.includes('"ts":');
}

/** `dial tcp 127.0.0.1:8080: …` → `127.0.0.1:8080`; `dial unix /x.sock: …` → `unix:/x.sock`; `read tcp A->B: …` → B. */
export function goErrorUpstream(message: string): string | null {
  const dial = /dial (tcp|unix) (\S+?):? /.exec(message);
  if (dial) return dial[1] === 'unix' ? `unix:${dial[2]}` : dial[2]!;
  const io = /(?:read|write|readfrom|writeto) (?:tcp|unix) \S*?->(\S+):(?= )/.exec(message);
  return io ? (io[1] ?? null) : null;
}

function fillFromJson(
  into: FastClassification,
  signal: string | undefined,
  o: Record<string, unknown>,
  message: string,
  upstream: string | null,
): LineKind {
  const status = typeof o['status'] === 'number' ? o['status'] : 0;
  return fillFailure(
    into,
    signal,
    status,
    typeof o['ts'] === 'number' ? fromEpochSeconds(o['ts']) : '',
    upstream ?? goErrorUpstream(message),
  );
}

/** Creates the Caddy classifier. */
export function createCaddyClassifier(): FormatClassifier {
  return {
    format: 'caddy',
    classify(line, into) {
      if (!looksLikeCaddy(line)) return LINE.FOREIGN;
      const error = line.includes('"logger":"http.log.error');
      const handler =
        !error && line.includes('"logger":"http.handlers.reverse_proxy"') && line.includes('incomplete response');
      if (!error && !handler) return LINE.OK;
      let o: Record<string, unknown>;
      try {
        const value: unknown = JSON.parse(line);
        if (typeof value !== 'object' || value === null) return LINE.FOREIGN;
        o = value as Record<string, unknown>;
      } catch {
        return LINE.FOREIGN;
      }
      const message = typeof o['msg'] === 'string' ? o['msg'] : '';
      if (handler)
        return fillFromJson(
          into,
          'caddy-body-abort',
          o,
          message,
          typeof o['upstream'] === 'string' ? o['upstream'] : null,
        );
      const status = typeof o['status'] === 'number' ? o['status'] : 0;
      // Caddy answers 499 when the client canceled (closed its connection) while waiting.
      if (status === 499) return LINE.CLIENT_ABORT;
      // The client's body was over `request_body max_size`: Caddy 2.6 answers 502 for it, no upstream's doing.
      if (message.includes('request body too large'))
        return fillFromJson(into, 'caddy-body-too-large', o, message, null);
      const kind = matchGoError(message);
      if (kind) return fillFromJson(into, `caddy-${kind.kind}`, o, message, null);
      // An error the handler chain returned that is no upstream failure (a 404 from file_server…).
      if (status > 0 && status < 500) return LINE.OK;
      return fillFromJson(into, undefined, o, message, null);
    },
  };
}
