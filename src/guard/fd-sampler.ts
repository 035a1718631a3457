import { readdir, readFile, stat } from 'node:fs/promises';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { debug } from '../util/index.js';
import { errnoCode } from '../errors/index.js';
import { parseNofileLimits } from '../proc/index.js';

/** Limits re-read from `<procDir>/limits` this often: `prlimit` can change them at run time. */
const LIMITS_REFRESH_MS = 5000;

/**
 * The guard's fd count: the last sample of `<procDir>/fd` plus the sockets opened minus closed
 * since (attached servers report them), so a burst of connections moves the estimate at once,
 * between samples. Where /proc cannot be read it turns itself off ({@link FdSampler.available}
 * false) and the fd rules with it; EMFILE while sampling is no such failure: it *is* the answer
 * (every fd in use), exactly when the reaper must act.
 */
export interface FdSampler {
  /** /proc is readable; false turns the fd rules and the reaper off for good. */
  readonly available: boolean;
  /** Open fds now (estimate), 0 when unavailable. */
  readonly open: number;
  /** Soft RLIMIT_NOFILE; 0 when unknown or unlimited. */
  readonly limit: number;
  /** open / limit; 0 when either is unknown. */
  ratio(): number;
  /** `n` fds opened (negative: closed) since the last sample. */
  add(n: number): void;
  /**
   * Reads the fd dir (and the limits, every {@link LIMITS_REFRESH_MS}) without blocking the loop.
   * Resolves false when no new count came of it (unavailable, a read already running).
   */
  sample(): Promise<boolean>;
}

/**
 * Creates the sampler and takes its first sample synchronously, so the guard is right from the
 * first request. After that, `onChange` runs whenever the estimate moves (an `add`, a new sample,
 * the rules turned off), so a reader can keep the ratio in a slot; `onUnavailable` runs once if
 * /proc turns out unreadable later (read {@link FdSampler.available} after creating it for the
 * first sample's verdict).
 */
export function createFdSampler(
  procDir: string,
  { onChange, onUnavailable }: { onChange(): void; onUnavailable(): void },
): FdSampler {
  const fdDir = `${procDir}/fd`;
  const limitsFile = `${procDir}/limits`;
  let available = true;
  let sampled = 0;
  let delta = 0;
  let limit = 0;
  let limitsReadAt = 0;
  /** The fd dir's st_size is its fd count (procfs, Linux 6.2+); else it is listed. */
  let bySize = false;
  let sampling = false;
  let created = false;

  function disable(err: unknown): void {
    if (!available) return;
    available = false;
    limit = sampled = delta = 0;
    debug('guard: fd rules off: cannot read %s (%s); other rules keep working', fdDir, (err as Error)?.message ?? err);
    if (!created) return;
    onChange();
    onUnavailable();
  }

  /** EMFILE/ENFILE mean every fd is in use: the count is the limit (when known). Else /proc is not there for us. */
  function failed(err: unknown): void {
    const code = errnoCode(err);
    if (code !== 'EMFILE' && code !== 'ENFILE') disable(err);
    else if (limit > 0) sampled = limit;
  }

  try {
    sampled = readdirSync(fdDir).length - 1; // minus the fd readdir itself had open
    // Linux 6.2+ gives a /proc/PID/fd dir's st_size as its count of open fds: one stat, no fd
    // needed, O(1) instead of a listing of every fd (the listing is sorted and turned into JS
    // strings: ~30 ms per sample at 20,000 fds). Older kernels say 0, a stand-in dir its bytes.
    bySize = statSync(fdDir).size === sampled;
    limit = parseSoftNofile(readFileSync(limitsFile, 'utf8'));
    limitsReadAt = Date.now();
  } catch (err) {
    failed(err); // limit unknown yet at EMFILE: the next sample retries
  }
  created = true;

  return {
    get available() {
      return available;
    },
    get open() {
      return available ? sampled + delta : 0;
    },
    get limit() {
      return limit;
    },
    ratio: () => (available && limit > 0 ? (sampled + delta) / limit : 0),
    add(n) {
      delta += n;
      onChange();
    },
    async sample() {
      if (!available || sampling) return false;
      sampling = true;
      try {
        if (Date.now() - limitsReadAt >= LIMITS_REFRESH_MS) {
          limit = parseSoftNofile(await readFile(limitsFile, 'utf8'));
          limitsReadAt = Date.now();
        }
        sampled = bySize ? (await stat(fdDir)).size : (await readdir(fdDir)).length - 1;
      } catch (err) {
        failed(err);
      } finally {
        sampling = false;
      }
      if (!available) return false;
      delta = 0;
      onChange();
      return true;
    },
  };
}

/** Soft limit from a `/proc/<pid>/limits` text; 0 when unlimited (the fd rules then never fire). */
function parseSoftNofile(text: string): number {
  return parseNofileLimits(text).soft ?? 0;
}
