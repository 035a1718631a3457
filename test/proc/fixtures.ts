import { readFileSync } from 'node:fs';

/** Reads a captured sample from test/proc/fixtures (tsc does not copy them to dist, so read the source tree). */
export function fixture(name: string): string {
  return readFileSync(new URL(`../../../test/proc/fixtures/${name}`, import.meta.url), 'utf8');
}

/** The socket scene the fixtures were captured from (see fixtures/capture.mjs). */
export const SCENE = {
  pid: 13192,
  childPid: 13203,
  ports: { idle: 43589, v6: 41949, dual: 34735, blocked: 35927 },
  dir: '/tmp/bg-fx-7VP0TD',
} as const;
