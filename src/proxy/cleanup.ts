import { debug } from '../util/index.js';

/**
 * Last-resort cleanup when the process goes away without calling `close()`: on `exit` (sync work
 * only) and on SIGINT/SIGTERM/SIGHUP when nobody else handles them (the CLI does; a test runner or a
 * bare script usually does not). In the latter case the signal is re-raised afterwards, so the
 * process still dies the way it would have.
 */
const tasks = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const task of [...tasks]) {
    tasks.delete(task);
    try {
      task();
    } catch (err) {
      debug('proxy exit cleanup failed: %o', err);
    }
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function onSignal(signal: NodeJS.Signals): void {
  // Someone else owns signal handling (the CLI): they will call close(); stay out of the way.
  if (process.listenerCount(signal) > 1) return;
  runAll();
  for (const s of SIGNALS) process.off(s, onSignal);
  process.kill(process.pid, signal);
}

/** Registers a synchronous cleanup; returns the function that unregisters it (call it from `close()`). */
export function onProcessExit(task: () => void): () => void {
  if (!installed) {
    installed = true;
    process.on('exit', runAll);
    for (const s of SIGNALS) process.on(s, onSignal);
  }
  tasks.add(task);
  return () => {
    tasks.delete(task);
  };
}
