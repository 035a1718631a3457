import { closeSync, openSync } from 'node:fs';
import { errnoCode } from '../errors/index.js';

/** Outcome of one `/leak` call. */
export interface LeakResult {
  /** Fds opened by this call. */
  leaked: number;
  /** Fds held by the app in all (every `/leak` since the last `/cleanup`). */
  held: number;
  /** `EMFILE`/`ENFILE` when the limit stopped the call early; `null` when all `n` were opened. */
  error: string | null;
}

/** The app's deliberately leaked fds, plus one reserve fd that keeps it able to look at itself. */
export interface FdLeak {
  /** Opens up to `n` fds (`/dev/null`) and keeps them; stops at EMFILE/ENFILE instead of failing. */
  leak(n: number): LeakResult;
  /** Closes every leaked fd; returns how many. */
  cleanup(): number;
  /** Leaked fds held now. */
  readonly held: number;
  /**
   * Runs `fn` with the reserve fd released, so reading /proc (which needs an fd) works even when
   * the leak took every other fd. The reserve is taken back afterwards if an fd is free.
   */
  withReserve<T>(fn: () => Promise<T>): Promise<T>;
  /** Closes the leaked fds and the reserve. */
  close(): void;
}

const LEAK_TARGET = '/dev/null';

/** Creates the leak pool and takes its reserve fd. */
export function createFdLeak(): FdLeak {
  const fds: number[] = [];
  let reserve: number | undefined = tryOpen();
  let closed = false;

  function tryOpen(): number | undefined {
    try {
      return openSync(LEAK_TARGET, 'r');
    } catch {
      return undefined;
    }
  }

  return {
    leak(n) {
      let error: string | null = null;
      let leaked = 0;
      for (; leaked < n && !closed; leaked++) {
        try {
          fds.push(openSync(LEAK_TARGET, 'r'));
        } catch (err) {
          const code = errnoCode(err);
          if (code !== 'EMFILE' && code !== 'ENFILE') throw err;
          error = code;
          break;
        }
      }
      return { leaked, held: fds.length, error };
    },
    cleanup() {
      const count = fds.length;
      for (const fd of fds.splice(0)) closeSync(fd);
      return count;
    },
    get held() {
      return fds.length;
    },
    async withReserve(fn) {
      if (reserve !== undefined) {
        closeSync(reserve);
        reserve = undefined;
      }
      try {
        return await fn();
      } finally {
        if (!closed) reserve = tryOpen();
      }
    },
    close() {
      closed = true;
      for (const fd of fds.splice(0)) closeSync(fd);
      if (reserve !== undefined) closeSync(reserve);
      reserve = undefined;
    },
  };
}
