import type { ChildProcess } from 'node:child_process';

/** Signals to stop a child with, each followed by how long to wait for its exit (ms). */
export type StopSteps = readonly (readonly [NodeJS.Signals, number])[];

/**
 * Sends each signal of `steps` in turn while the child runs, waiting up to its time for the exit.
 * A wait ends with the exit and leaves no timer behind (none keeps the caller's process alive).
 */
export async function stopChild(child: ChildProcess, exited: Promise<void>, steps: StopSteps): Promise<void> {
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  for (const [signal, waitMs] of steps) {
    if (!alive()) return;
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }
}

/**
 * `signal`, then SIGKILL after `graceMs`: how the app servers badgateway runs are stopped.
 * Resolves once the child has exited, or 10 s after the SIGKILL (the kernel's to deliver).
 */
export function terminateChild(
  child: ChildProcess,
  exited: Promise<void>,
  signal: NodeJS.Signals,
  graceMs: number,
): Promise<void> {
  return stopChild(child, exited, [
    [signal, graceMs],
    ['SIGKILL', 10_000],
  ]);
}
