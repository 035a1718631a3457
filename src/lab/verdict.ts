import { getCause, getProxyView, type CauseId } from '../causes/index.js';
import type { PhaseResult, PhaseVerdict, ProxyKind } from './types.js';

function statusList(statusCodes: Record<string, number>, statuses: readonly number[]): { count: number; text: string } {
  const parts = statuses
    .filter((s) => (statusCodes[String(s)] ?? 0) > 0)
    .map((s) => `${statusCodes[String(s)]} × ${s}`);
  const count = statuses.reduce((n, s) => n + (statusCodes[String(s)] ?? 0), 0);
  return { count, text: parts.join(' + ') || `no ${statuses.join('/')}` };
}

/**
 * What the client gets for `causeId` behind `proxy`: the catalogue's per-proxy view (HAProxy answers
 * 503 where nginx answers 502 for a refused connection), the cause's statuses for nginx and the
 * built-in proxy.
 */
export function causeStatuses(causeId: CauseId, proxy: ProxyKind = 'nginx'): readonly number[] {
  const view = getProxyView(causeId, proxy === 'builtin' ? 'nginx' : proxy);
  return view && 'statuses' in view ? view.statuses : (getCause(causeId)?.statuses ?? [502, 504]);
}

/**
 * The fail phase reproduces the cause when the client got at least one of the cause's statuses
 * behind this proxy (from the catalogue's per-proxy view) and the proxy logged at least one line
 * that is evidence of it.
 */
export function judgeFailPhase(phase: PhaseResult, causeId: CauseId, proxy: ProxyKind = 'nginx'): PhaseVerdict {
  if (phase.error) return { ok: false, reason: `could not run: ${phase.error}` };
  const statuses = causeStatuses(causeId, proxy);
  const seen = statusList(phase.client.statusCodes, statuses);
  const lines = phase.proxyLog.causeLines;
  const patterns = [...new Set(phase.proxyLog.classified.filter((l) => l.matchesCause).map((l) => l.patternId))].join(
    ', ',
  );
  if (seen.count === 0 && lines === 0)
    return {
      ok: false,
      reason: `not reproduced: the client saw ${seen.text} and the proxy logged no line of ${causeId}`,
    };
  if (seen.count === 0)
    return {
      ok: false,
      reason: `the proxy logged ${lines} line(s) of ${causeId} (${patterns}) but the client saw ${seen.text}`,
    };
  if (lines === 0)
    return { ok: false, reason: `the client saw ${seen.text} but the proxy logged no line of ${causeId}` };
  return {
    ok: true,
    reason: `reproduced: the client saw ${seen.text}; the proxy logged ${lines} line(s) of ${causeId} (${patterns})`,
  };
}

/**
 * The fix phase holds when the client got no 502/504 and no transport error, and the proxy logged
 * no line of the cause. A 503 is no failure here: the guard's shedding answers 503 on purpose, and
 * HAProxy's own 503s (a refused connect) come with a line of the cause.
 */
export function judgeFixPhase(phase: PhaseResult | undefined): PhaseVerdict {
  if (!phase) return { ok: false, reason: 'not run' };
  if (phase.error) return { ok: false, reason: `could not run: ${phase.error}` };
  const problems: string[] = [];
  const gateway = statusList(phase.client.statusCodes, [502, 504]);
  if (gateway.count > 0) problems.push(`the client still saw ${gateway.text}`);
  const errors = Object.entries(phase.client.errors).filter(([, n]) => n > 0);
  if (errors.length > 0) problems.push(`client errors: ${errors.map(([k, n]) => `${n} × ${k}`).join(', ')}`);
  if (phase.proxyLog.causeLines > 0)
    problems.push(`the proxy logged ${phase.proxyLog.causeLines} line(s) of the cause`);
  if (problems.length > 0) return { ok: false, reason: problems.join('; ') };
  if (phase.client.requests === 0) return { ok: false, reason: 'no request was sent' };
  return { ok: true, reason: `fixed: ${phase.client.requests} requests, no 502/504, no proxy line of the cause` };
}
