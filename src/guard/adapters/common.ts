import { createGuard, type Guard } from '../guard.js';
import type { GuardOptions } from '../options.js';

/** An adapter takes a guard to share (one per process is the norm) or options for a new one. */
export type GuardOrOptions = Guard | GuardOptions;

function isGuard(g: GuardOrOptions): g is Guard {
  return typeof (g as Guard).admit === 'function' && typeof (g as Guard).evaluate === 'function';
}

/** The guard to use, and whether the adapter created it (then it also closes it). */
export function toGuard(g: GuardOrOptions | undefined): { guard: Guard; owned: boolean } {
  if (g !== undefined && isGuard(g)) return { guard: g, owned: false };
  return { guard: createGuard(g ?? {}), owned: true };
}
