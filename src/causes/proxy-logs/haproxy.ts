import type { FastClassification } from '../classify.js';
import { getSignal, UNKNOWN_SIGNAL } from './signals.js';
import { fromClfTime } from './time.js';
import { LINE, type FormatClassifier, type LineKind, type ProxySignal } from './types.js';

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
const UNIX_BACKLOG = /^Connect\(\) failed for backend (\S+): can't connect to destination unix socket, check backlog size on the server\./;
const OTHER_MESSAGE = /^(?:(?:Backup )?Server \S+ is (?:UP|going DOWN|stopped)|Proxy \S+ (?:started|stopped)|Stopping (?:frontend|backend|proxy) |Health check for |\[(?:NOTICE|WARNING|ALERT)\])/;

/** Where the HAProxy message starts: after `haproxy[PID]: ` of a syslog header, else 0. */
function payloadStart(line: string): number {
  const at = line.indexOf(']: ');
  if (at === -1 || at > 120) return 0;
  const open = line.lastIndexOf('[', at);
  return open >= 7 && line.startsWith('haproxy', open - 7) ? at + 3 : -1;
}

/** Index of the end of the space-separated token starting at `from` (the space or the line's end). */
function tokenEnd(line: string, from: number): number {
  const sp = line.indexOf(' ', from);
  return sp === -1 ? line.length : sp;
}

function fill(into: FastClassification, signal: Pick<ProxySignal, 'id' | 'causes' | 'status'>, status: number, time: string, upstream: string | null): LineKind {
  into.patternId = signal.id;
  into.causes = signal.causes;
  into.status = status >= 500 && status <= 504 ? (status as 500 | 502 | 503 | 504) : signal.status;
  into.level = 'error';
  into.time = time;
  into.upstream = upstream;
  return LINE.FAILURE;
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
      if (open === -1 || open - start > 64 || line.charCodeAt(open + 4) !== 47 /* / */) return otherMessage(line, start, into);
      const close = line.indexOf('] ', open + 2);
      if (close === -1 || close - open > 40) return LINE.FOREIGN;
      const clf = line.slice(open + 2, open + 22);
      if (clf !== lastClf) {
        lastClf = clf;
        lastTime = fromClfTime(clf);
      }
      if (lastTime === '') return LINE.FOREIGN;
      // frontend, backend/server, timers, status, bytes, cookie in, cookie out, termination state
      let pos = close + 2;
      const ends: number[] = [];
      for (let i = 0; i < 8 && pos <= line.length; i++) {
        const end = tokenEnd(line, pos);
        ends.push(end);
        pos = end + 1;
      }
      if (ends.length < 8) return LINE.FOREIGN;
      const serverStart = ends[0]! + 1;
      const statusStart = ends[2]! + 1;
      const stateStart = ends[6]! + 1;
      // The status is -1 when no response went out (the client's connection was reset).
      const statusLength = ends[3]! - statusStart;
      if ((statusLength !== 3 && statusLength !== 2) || ends[7]! - stateStart !== 4) return LINE.FOREIGN;
      const status = Number(line.slice(statusStart, ends[3]));
      if (!Number.isInteger(status) || (statusLength === 2 && status !== -1)) return LINE.FOREIGN;
      const first = line[stateStart]!;
      const second = line[stateStart + 1]!;
      if (first === '-') return status >= 500 ? LINE.APP_ERROR : LINE.OK;
      if (first === 'C' || first === 'c') return LINE.CLIENT_ABORT;
      const upstream = line.slice(serverStart, ends[1]);
      if (first === 'S' && second === 'C' && upstream.endsWith('/<NOSRV>')) return fill(into, getSignal('haproxy-no-server'), status, lastTime, upstream);
      const id = BY_STATE[first + second];
      if (id !== undefined) return fill(into, getSignal(id), status, lastTime, upstream);
      // Local answers (LR: redirects, stats, `http-request return`), denials (PR) and tarpits are the proxy's own business.
      if (first === 'L' || second === 'R' || second === 'T') return LINE.OK;
      return fill(into, UNKNOWN_SIGNAL, status, lastTime, upstream);
    },
  };

  function otherMessage(line: string, start: number, into: FastClassification): LineKind {
    const message = line.slice(start);
    const time = '';
    if (SERVER_DOWN.test(message)) return fill(into, getSignal('haproxy-server-down'), 0, time, /^(?:Backup )?Server (\S+)/.exec(message)?.[1] ?? null);
    if (NO_SERVER.test(message)) return fill(into, getSignal('haproxy-no-server'), 0, time, /^(?:backend|proxy) (\S+)/.exec(message)?.[1] ?? null);
    const backlog = UNIX_BACKLOG.exec(message);
    if (backlog) return fill(into, getSignal('haproxy-unix-backlog'), 0, time, backlog[1] ?? null);
    // A raw line (no syslog header) is HAProxy's only when it is one of its known messages.
    return start > 0 || OTHER_MESSAGE.test(message) ? LINE.OK : LINE.FOREIGN;
  }
}
