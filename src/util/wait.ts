import { setTimeout as delay } from 'node:timers/promises';
import { BadgatewayError, ERROR_CODES } from '../errors/index.js';

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  delay(ms, undefined, signal ? { signal } : undefined);

/**
 * Polls `check` until it returns a value other than `undefined`/`false`, or throws `BG_TIMEOUT`
 * after `timeoutMs` naming `what`. Errors thrown by `check` count as "not yet".
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 5000, intervalMs = 20, signal }: { timeoutMs?: number; intervalMs?: number; signal?: AbortSignal } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new BadgatewayError(ERROR_CODES.TIMEOUT, `timed out after ${timeoutMs} ms waiting for ${what}`, {
        cause: lastError,
      });
    }
    await sleep(intervalMs, signal);
  }
}
