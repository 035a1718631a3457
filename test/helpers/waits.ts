import { readFile } from 'node:fs/promises';
import { sleep, waitFor } from '../../src/util/index.js';

/** The kernel function `pid`'s main thread sleeps in (`/proc/PID/wchan`), '' when unknown. */
async function wchan(pid: number): Promise<string> {
  return readFile(`/proc/${pid}/wchan`, 'utf8').catch(() => '');
}

/**
 * Resolves once `pid`'s event loop is blocked: its main thread sleeps in a futex (Atomics.wait,
 * a sync worker stuck in a request) instead of epoll. Read twice 20 ms apart, so a garbage
 * collector's brief futex wait does not count. The condition a test waits on instead of a guess
 * at how long the child takes to get there.
 */
export async function waitUntilBlocked(pid: number, timeoutMs = 5000): Promise<void> {
  await waitFor(
    `pid ${pid} to block in a futex`,
    async () => (await wchan(pid)).includes('futex') && (await sleep(20), (await wchan(pid)).includes('futex')),
    { timeoutMs, intervalMs: 10 },
  );
}
