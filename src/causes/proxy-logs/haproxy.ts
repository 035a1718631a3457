import type { FastClassification } from '../classify.js';
import { fillFailure as fill } from './fill.js';
import { fromClfTime } from './time.js';
import { LINE, type FormatClassifier, type LineKind } from './types.js';

/*
 * HAProxy's `option httplog` line (https://docs.haproxy.org/2.6/configuration.html#8.2.3):
 *
 *   CLIENT:PORT [DD/Mon/YYYY:HH:MM:SS.mmm] FRONTEND BACKEND/SERVER TR/Tw/Tc/Tr/Ta STATUS BYTES CC CS TSC ac/fc/bc/sc/rc sq/bq "REQUEST"
 *
 * raw (`log stdout format raw`) or behind a syslog header (`<134>Nov 30 21:50:28 host haproxy[8540]: `,
 * or rsyslog's file form without `<PRI>`). The cause is in the termination state TSC
 * (https://docs.haproxy.org/2.6/configuration.html#8.5): its first letter says who ended the
 * session (C client, S server, P/R/I the proxy, c/s a client/server timeout), the second in which
 * phase (R request, Q queue, C connect, H response headers, D data).
 */

/** Termination state's first two letters → signal id. */
const BY_STATE: Readonly<Record<string, string>> = {
  SC: 'haproxy-SC',
  sC: 'haproxy-sC',
  SH: 'haproxy-SH',
  sH: 'haproxy-sH',
  SD: 'haproxy-SD',
  sD: 'haproxy-sD',
  sQ: 'haproxy-sQ',
  PH: 'haproxy-PH',
  PC: 'haproxy-PC',
  RC: 'haproxy-RC',
};

/** HAProxy messages that are not request lines but still HAProxy's. */
const SERVER_DOWN = /^(?:Backup )?Server \S+ is DOWN/;
const NO_SERVER = /^(?:backend|proxy) \S+ has no server available!/;
/** HAProxy's own words for EAGAIN on a unix-socket connect (recorded): the request line says SC--. */
const UNIX_BACKLOG =
  /^Connect\(\) failed for backend (\S+): can't connect to destination unix socket, check backlog size on the server\./;
const OTHER_MESSAGE =
  /^(?:(?:Backup )?Server \S+ is (?:UP|going DOWN|stopped)|Proxy \S+ (?:started|stopped)|Stopping (?:frontend|backend|proxy) |Health check for |\[(?:NOTICE|WARNING|ALERT)\])/;

/**
 * Where the HAProxy message starts: 0 for a raw line, after `haproxy[PID]: ` of a syslog header;
 * -1 when the line has a header of another program. A raw request line starts with the client's
 * address and has ` [DD/` within its first 64 characters: tried first, it costs one short scan.
 */
function payloadStart(line: string): number {
  const open = line.indexOf(' [');
  if (open !== -1 && open < 64 && line.charCodeAt(open + 4) === 47 /* / */ && line.charCodeAt(0) !== 60 /* < */)
    return 0;
  const at = line.indexOf(']: ');
  if (at === -1 || at > 120) return 0;
  const bracket = line.lastIndexOf('[', at);
  return bracket >= 7 && line.startsWith('haproxy', bracket - 7) ? at + 3 : -1;
}

/** The 3-digit status at `at` (or -1 written as `-1`), NaN for anything else; no allocation. */
function readStatus(line: string, at: number, end: number): number {
  if (end - at === 2)
    return line.charCodeAt(at) === 45 /* - */ && line.charCodeAt(at + 1) === 49 /* 1 */ ? -1 : Number.NaN;
  if (end - at !== 3) return Number.NaN;
  const a = line.charCodeAt(at) - 48;
  const b = line.charCodeAt(at + 1) - 48;
  const c = line.charCodeAt(at + 2) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 && c >= 0 && c <= 9 ? a * 100 + b * 10 + c : Number.NaN;
}

/** Creates the HAProxy classifier (stateless but for a one-entry time cache). */
export function createHaproxyClassifier(): FormatClassifier {
  let lastClf = '';
  let lastTime = '';
  return {
    format: 'haproxy',
    classify(line, into) {
      const start = payloadStart(line);
      if (start === -1) return LINE.FOREIGN;
      // `CLIENT:PORT [` — the client address is short.
      const open = line.indexOf(' [', start);
      if (open === -1 || open - start > 64 || line.charCodeAt(open + 4) !== 47 /* / */)
        return otherMessage(line, start, into);
      const close = line.indexOf('] ', open + 2);
      if (close === -1 || close - open > 40) return LINE.FOREIGN;
      // The time to the second; a log's lines share it in runs, so it is compared in place first.
      if (!line.startsWith(lastClf, open + 2) || lastClf === '') {
        lastClf = line.slice(open + 2, open + 22);
        lastTime = fromClfTime(lastClf);
      }
      if (lastTime === '') return LINE.FOREIGN;
      // FRONTEND BACKEND/SERVER TIMERS STATUS BYTES CC CS TSC: the end of each token, no array.
      const frontendEnd = line.indexOf(' ', close + 2);
      const serverEnd = frontendEnd === -1 ? -1 : line.indexOf(' ', frontendEnd + 1);
      const timersEnd = serverEnd === -1 ? -1 : line.indexOf(' ', serverEnd + 1);
      const statusEnd = timersEnd === -1 ? -1 : line.indexOf(' ', timersEnd + 1);
      const bytesEnd = statusEnd === -1 ? -1 : line.indexOf(' ', statusEnd + 1);
      const ccEnd = bytesEnd === -1 ? -1 : line.indexOf(' ', bytesEnd + 1);
      const csEnd = ccEnd === -1 ? -1 : line.indexOf(' ', ccEnd + 1);
      if (csEnd === -1) return LINE.FOREIGN;
      const stateStart = csEnd + 1;
      const stateEnd = line.indexOf(' ', stateStart);
      if ((stateEnd === -1 ? line.length : stateEnd) - stateStart !== 4) return LINE.FOREIGN;
      // The status is -1 when no response went out (the client's connection was reset).
      const status = readStatus(line, timersEnd + 1, statusEnd);
      if (Number.isNaN(status)) return LINE.FOREIGN;
      const first = line.charCodeAt(stateStart);
      if (first === 45 /* - */) return status >= 500 ? LINE.APP_ERROR : LINE.OK;
      if (first === 67 /* C */ || first === 99 /* c */) return LINE.CLIENT_ABORT;
      const state = line.slice(stateStart, stateStart + 2);
      const upstream = line.slice(frontendEnd + 1, serverEnd);
      if (state === 'SC' && upstream.endsWith('/<NOSRV>'))
        return fill(into, 'haproxy-no-server', status, lastTime, upstream);
      const id = BY_STATE[state];
      if (id !== undefined) return fill(into, id, status, lastTime, upstream);
      // Local answers (LR: redirects, stats, `http-request return`), denials (PR) and tarpits are the proxy's own business.
      if (state[0] === 'L' || state[1] === 'R' || state[1] === 'T') return LINE.OK;
      return fill(into, undefined, status, lastTime, upstream);
    },
  };

  function otherMessage(line: string, start: number, into: FastClassification): LineKind {
    const message = line.slice(start);
    const time = '';
    if (SERVER_DOWN.test(message))
      return fill(into, 'haproxy-server-down', 0, time, /^(?:Backup )?Server (\S+)/.exec(message)?.[1] ?? null);
    if (NO_SERVER.test(message))
      return fill(into, 'haproxy-no-server', 0, time, /^(?:backend|proxy) (\S+)/.exec(message)?.[1] ?? null);
    const backlog = UNIX_BACKLOG.exec(message);
    if (backlog) return fill(into, 'haproxy-unix-backlog', 0, time, backlog[1] ?? null);
    // A raw line (no syslog header) is HAProxy's only when it is one of its known messages.
    return start > 0 || OTHER_MESSAGE.test(message) ? LINE.OK : LINE.FOREIGN;
  }
}
