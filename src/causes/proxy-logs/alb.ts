import type { FastClassification } from '../classify.js';
import { fillFailure } from './fill.js';
import { fromIsoTime } from './time.js';
import { LINE, type FormatClassifier, type LineKind } from './types.js';

/*
 * The AWS Application Load Balancer access log
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html#access-log-entry-syntax):
 *
 *   type time elb client:port target:port request_processing_time target_processing_time
 *   response_processing_time elb_status_code target_status_code received_bytes sent_bytes
 *   "request" "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name"
 *   "chosen_cert_arn" matched_rule_priority request_creation_time "actions_executed"
 *   "redirect_url" "error_reason" "target:port_list" "target_status_code_list" "classification"
 *   "classification_reason" [conn_trace_id]
 *
 * `target_status_code` is `-` and `target_processing_time` -1 when the target sent no response:
 * then the ALB's own 502/504 names the cause
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html#load-balancer-http-error-codes).
 * A target_status_code of 502 is the app's own answer passed through, not a proxy cause; 460 is
 * the client closing before the answer.
 */

const TYPES = new Set(['http', 'https', 'h2', 'grpcs', 'ws', 'wss']);

/** The first `n` space-separated tokens of `line` (they hold no quotes), or undefined. */
function tokens(line: string, n: number): string[] | undefined {
  const out: string[] = [];
  let pos = 0;
  while (out.length < n) {
    const sp = line.indexOf(' ', pos);
    if (sp === -1) return undefined;
    out.push(line.slice(pos, sp));
    pos = sp + 1;
  }
  return out;
}

/** The quoted fields after the first `skip` tokens. ALB escapes no quote inside them but the request's. */
function quoted(line: string): string[] {
  const out: string[] = [];
  let pos = 0;
  for (;;) {
    const open = line.indexOf('"', pos);
    if (open === -1) return out;
    let close = open + 1;
    for (;;) {
      close = line.indexOf('"', close);
      if (close === -1) return out;
      if (line.charCodeAt(close - 1) !== 92 /* \ */) break;
      close += 1;
    }
    out.push(line.slice(open + 1, close));
    pos = close + 1;
  }
}

/** A failure; the ALB writes `-` for a target it never reached. */
function fillTarget(
  into: FastClassification,
  id: string | undefined,
  status: number,
  time: string,
  target: string,
): LineKind {
  return fillFailure(into, id, status, time, target === '-' ? null : target);
}

/** Creates the ALB classifier. */
export function createAlbClassifier(): FormatClassifier {
  return {
    format: 'alb',
    classify(line, into) {
      const sp = line.indexOf(' ');
      if (sp < 2 || sp > 5 || !TYPES.has(line.slice(0, sp))) return LINE.FOREIGN;
      const t = tokens(line, 12);
      if (!t) return LINE.FOREIGN;
      const time = fromIsoTime(t[1]!);
      const elbStatus = Number(t[8]);
      if (time === '' || !Number.isInteger(elbStatus)) return LINE.FOREIGN;
      const target = t[4]!;
      const targetStatus = t[9]!;
      const targetTime = t[6]!;
      const q = quoted(line);
      if ((q[1] ?? '').startsWith('ELB-HealthChecker')) return LINE.HEALTH_CHECK;
      if (elbStatus === 460) return LINE.CLIENT_ABORT;
      if (elbStatus < 500) return LINE.OK;
      // The target answered: a 5xx passed on is the app's own.
      if (targetStatus !== '-')
        return targetStatus.startsWith('5')
          ? LINE.APP_ERROR
          : fillTarget(into, elbStatus === 502 ? 'alb-502-bad-response' : undefined, elbStatus, time, target);
      const errorReason = q[7] ?? '-';
      if (errorReason !== '-' && errorReason !== '') return fillTarget(into, undefined, elbStatus, time, target);
      if (elbStatus === 503 && target === '-') return fillTarget(into, 'alb-503-no-target', elbStatus, time, target);
      if (elbStatus === 502 && targetTime === '-1')
        return fillTarget(into, 'alb-502-target-closed', elbStatus, time, target);
      if (elbStatus === 502) return fillTarget(into, 'alb-502-bad-response', elbStatus, time, target);
      if (elbStatus === 504) return fillTarget(into, 'alb-504-timeout', elbStatus, time, target);
      return fillTarget(into, undefined, elbStatus, time, target);
    },
  };
}
