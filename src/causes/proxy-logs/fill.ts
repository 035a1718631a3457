import type { FastClassification } from '../classify.js';
import { getSignal, UNKNOWN_SIGNAL } from './signals.js';
import { LINE, type LineKind, type ProxySignal } from './types.js';

/**
 * Fills `into` with a failure of `signal` (a signal id, or undefined for an upstream error no
 * signal knows): the line's own status when it is a 5xx the proxy answered, else the signal's.
 */
export function fillFailure(
  into: FastClassification,
  signal: string | Pick<ProxySignal, 'id' | 'causes' | 'status'> | undefined,
  status: number,
  time: string,
  upstream: string | null,
): LineKind {
  const s = signal === undefined ? UNKNOWN_SIGNAL : typeof signal === 'string' ? getSignal(signal) : signal;
  into.patternId = s.id;
  into.causes = s.causes;
  into.status = status >= 500 && status <= 504 ? (status as 500 | 502 | 503 | 504) : s.status;
  into.level = 'error';
  into.time = time;
  into.upstream = upstream;
  return LINE.FAILURE;
}
