/** Every cause badgateway knows: the ones the lab reproduces, plus proxy-side ones doctor reads from logs. */
export const CAUSE_IDS = [
  'fd-exhaustion',
  'keepalive-leak',
  'backlog-overflow-unix',
  'backlog-overflow-tcp',
  'keepalive-race',
  'slow-upstream',
  'upstream-down',
  'socket-permission',
  'proxy-fd-exhaustion',
  'ephemeral-ports',
  'no-live-upstreams',
  'too-big-header',
  'close-wait-leak',
  'upstream-crash',
] as const;

export type CauseId = (typeof CAUSE_IDS)[number];

/** `id` is one of {@link CAUSE_IDS}. */
export function isCauseId(id: string): id is CauseId {
  return (CAUSE_IDS as readonly string[]).includes(id);
}
