import type { DoctorFacts, ListenerFacts, TargetFacts } from './collectors.js';
import type { ConfirmValues, Finding } from './findings.js';
import type { DoctorOptions } from './options.js';

/* Small helpers the rule modules share. */

/** A rule: facts in, findings out. Pure; thresholds come from the options. */
export type LiveRule = (target: TargetFacts, facts: DoctorFacts, options: DoctorOptions) => Finding[];

export const pct = (ratio: number): string => `${Math.round(ratio * 100)}%`;
export const seconds = (ms: number): string => (ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${ms} ms`);

export function confirmValues(target: TargetFacts, listener?: ListenerFacts): ConfirmValues {
  const values: ConfirmValues = {};
  const pid = listener?.pid ?? target.pid;
  if (pid !== undefined) values.pid = pid;
  const port = listener?.port ?? target.port;
  if (port !== undefined) values.port = port;
  const socket = listener?.path ?? target.unixSocket;
  if (socket !== undefined) values.socket = socket;
  return values;
}

export function fdEvidence(target: TargetFacts): string[] {
  const p = target.process;
  if (!p) return [];
  const { fds } = p;
  const kinds = Object.entries(fds.byKind)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return [
    `pid ${p.pid}${p.command ? ` (${p.command})` : ''}: ${fds.open} fds open of soft limit ${fds.soft ?? 'unlimited'}${fds.soft ? ` (${pct(fds.ratio)})` : ''}, hard limit ${fds.hard ?? 'unlimited'}`,
    `fds by kind: ${kinds || 'none'}`,
  ];
}
