import type { FastClassification } from '../classify.js';
import { fillFailure } from './fill.js';
import { fromIsoTime } from './time.js';
import { LINE, type FormatClassifier, type LineKind } from './types.js';

/*
 * Envoy's access log (https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage):
 *
 * - the default format string:
 *   [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS%
 *   %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%"
 *   "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"
 * - Istio's default (https://istio.io/latest/docs/tasks/observability/logs/access-log/), which adds
 *   %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" after the flags;
 * - a JSON format dictionary with the operators' snake-case names (`response_code`, `response_flags`,
 *   `response_code_details`, `upstream_host`, `start_time`, `user_agent`).
 *
 * The cause is in %RESPONSE_FLAGS% (`UF`, `UC`, `UT`, `URX`, `UH`, `UO`…, comma-separated when
 * several); %RESPONSE_CODE_DETAILS% `via_upstream` means the upstream itself sent the status.
 */

/** Flags that name an upstream failure, in the order that decides when a line has several. */
const FLAG_ORDER = ['UH', 'UF', 'UO', 'UC', 'UR', 'UT', 'URX', 'UPE', 'LR', 'OM', 'UMSDR'] as const;

const HEALTH_CHECKERS = /^(?:Envoy\/HC|ELB-HealthChecker|kube-probe|GoogleHC)/;

interface EnvoyFields {
  time: string;
  status: number;
  flags: string;
  details: string;
  userAgent: string;
  upstream: string;
}

/** The quoted fields of `line` from `from` on (Envoy does not escape quotes inside them). */
function quotedFields(line: string, from: number): string[] {
  const out: string[] = [];
  let pos = from;
  for (;;) {
    const open = line.indexOf('"', pos);
    if (open === -1) return out;
    const close = line.indexOf('"', open + 1);
    if (close === -1) return out;
    out.push(line.slice(open + 1, close));
    pos = close + 1;
  }
}

function parseText(line: string): EnvoyFields | undefined {
  if (line.charCodeAt(0) !== 91 /* [ */ || line.charCodeAt(11) !== 84 /* T */) return undefined;
  const end = line.indexOf('] "');
  if (end === -1 || end > 40) return undefined;
  const time = fromIsoTime(line.slice(1, end));
  const requestEnd = line.indexOf('" ', end + 3);
  if (time === '' || requestEnd === -1) return undefined;
  const rest = line.slice(requestEnd + 2).split(' ');
  const status = Number(rest[0]);
  if (!Number.isInteger(status) || (rest[0]!.length !== 3 && rest[0] !== '0')) return undefined;
  const flags = rest[1] ?? '-';
  // Istio's format: details and termination details before the numbers.
  const istio = rest[2] !== undefined && !/^\d+$/.test(rest[2]);
  const quoted = quotedFields(line, requestEnd + 2);
  const ua = quoted[istio ? 2 : 1] ?? '-';
  const upstream = quoted[istio ? 5 : 4] ?? '-';
  return { time, status, flags, details: istio ? (rest[2] ?? '-') : '-', userAgent: ua, upstream };
}

function parseJson(line: string): EnvoyFields | undefined {
  if (line.charCodeAt(0) !== 123 || !line.includes('"response_flags"')) return undefined;
  let o: Record<string, unknown>;
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v !== 'object' || v === null) return undefined;
    o = v as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const text = (k: string): string => (typeof o[k] === 'string' || typeof o[k] === 'number' ? String(o[k]) : '-');
  const status = Number(text('response_code'));
  if (!Number.isInteger(status)) return undefined;
  return {
    time: fromIsoTime(text('start_time')),
    status,
    flags: text('response_flags'),
    details: text('response_code_details'),
    userAgent: text('user_agent'),
    upstream: text('upstream_host'),
  };
}

function fill(into: FastClassification, id: string | undefined, f: EnvoyFields): LineKind {
  return fillFailure(into, id, f.status, f.time, f.upstream === '-' ? null : f.upstream.replace(/^tcp:\/\//, ''));
}

/** Creates the Envoy classifier. */
export function createEnvoyClassifier(): FormatClassifier {
  return {
    format: 'envoy',
    classify(line, into) {
      const f = parseText(line) ?? parseJson(line);
      if (!f) return LINE.FOREIGN;
      if (HEALTH_CHECKERS.test(f.userAgent)) return LINE.HEALTH_CHECK;
      if (f.flags === '-' || f.flags === '') {
        if (f.status >= 500)
          return f.details === '-' || f.details === 'via_upstream' ? LINE.APP_ERROR : fill(into, undefined, f);
        return LINE.OK;
      }
      const flags = f.flags.split(',');
      for (const flag of FLAG_ORDER) if (flags.includes(flag)) return fill(into, `envoy-${flag}`, f);
      if (flags.includes('DC')) return LINE.CLIENT_ABORT;
      if (flags.includes('LH')) return LINE.HEALTH_CHECK;
      // NR, RL, UAEX, FI, DI, SI, DPE, IH…: routing, rate limits, faults, the client's side.
      return f.status >= 500 ? fill(into, undefined, f) : LINE.OK;
    },
  };
}
