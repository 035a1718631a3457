import { InvalidArgumentError } from 'commander';

/**
 * Parsers for commander's `.argParser()`. They throw commander's `InvalidArgumentError`, which
 * commander reports as one line naming the option and the value (exit 2).
 */

export function parseIntArg(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max === Number.MAX_SAFE_INTEGER ? 'any' : max}.`);
    }
    return n;
  };
}

export function parseNumberArg(min: number, max: number = Number.POSITIVE_INFINITY, { exclusiveMin = false } = {}) {
  return (value: string): number => {
    const n = value.trim() === '' ? Number.NaN : Number(value);
    if (!Number.isFinite(n) || n < min || (exclusiveMin && n === min) || n > max) {
      const lower = exclusiveMin ? `greater than ${min}` : `at least ${min}`;
      throw new InvalidArgumentError(`expected a number ${lower}${Number.isFinite(max) ? ` and at most ${max}` : ''}.`);
    }
    return n;
  };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `"250ms"`, `"10s"`, `"1.5m"`, `"2h"`; a bare number is `defaultUnit`. Returns milliseconds. */
export function parseDurationMs(value: string, defaultUnit: 'ms' | 's' = 's'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!match) return Number.NaN;
  return Number(match[1]) * (DURATION_UNITS[match[2] ?? defaultUnit] ?? Number.NaN);
}

/** Commander parser for a duration; `allowZero` for options where 0 means off. */
export function parseDurationArg({ allowZero = false, defaultUnit = 's' as 'ms' | 's' } = {}) {
  return (value: string): number => {
    const ms = parseDurationMs(value, defaultUnit);
    if (!Number.isFinite(ms) || ms < 0 || (!allowZero && ms === 0)) {
      throw new InvalidArgumentError(
        `expected a duration like 500ms, 10s or 2m${allowZero ? ' (0 = off)' : ' greater than 0'}.`,
      );
    }
    return Math.round(ms);
  };
}
