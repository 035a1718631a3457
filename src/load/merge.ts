import { createMetrics, type LoadMetrics } from './metrics.js';
import { START_AT_LIMITS } from './options.js';
import { readResults, readResultsHeader } from './results-file.js';
import type { ResultsHeader } from './result.js';

/** Where a merged report's requests came from. */
export interface MergeSources {
  /** Distinct host names of the files' headers, in file order. */
  hosts: string[];
  /**
   * `wall-clock`: every file has a header from a `--start-at` run, so each is placed at its own
   * start instant and `startedAt` is the earliest; `own-start`: files are overlaid as if they had
   * started together (runs without an agreed start, or older files without a header).
   */
  aligned: 'wall-clock' | 'own-start';
  /** The instant the merged timeline's 0 is (wall-clock alignment only). */
  startedAt: string | null;
}

/** A merged report: the metrics of all the files' requests, with where they came from. */
export interface MergedReport extends LoadMetrics {
  files: number;
  /** Lines that were not result records. */
  skippedLines: number;
  sources: MergeSources;
}

/**
 * Merges result files (from several machines or runs) into one report: every record of every file
 * goes into one set of HDR histograms, so the totals, status codes and percentiles are those of all
 * the requests (exact, as vegeta's report: no averaging of per-file percentiles). Files of a
 * coordinated run (`load --start-at`) are placed on one wall-clock timeline; the asked rate is the
 * sum of the files' asked rates when their headers give it.
 */
export async function mergeResultFiles(paths: readonly string[], { bucketMs = 1000 }: { bucketMs?: number } = {}): Promise<MergedReport> {
  const headers: (ResultsHeader | undefined)[] = [];
  for (const path of paths) headers.push(await readResultsHeader(path));
  const known = headers.filter((h): h is ResultsHeader => h !== undefined);
  const starts = known.map((h) => h.startedAtMs);
  // Runs of one coordinated test start within a day of each other (load refuses a start further
  // ahead); files further apart are separate runs, overlaid.
  const coordinated = known.length === paths.length && known.every((h) => h.coordinated) && Math.max(...starts) - Math.min(...starts) <= START_AT_LIMITS.aheadMs;
  const base = coordinated ? Math.min(...starts) : 0;
  const offsetsMs = coordinated ? known.map((h) => h.startedAtMs - base) : [];
  const metrics = createMetrics({ bucketMs });
  const stats = await readResults(paths, (r) => metrics.add(r), { offsetsMs });
  // Asked rates add up when every file says what it was asked; else they are read from the due times.
  const rateAsked = known.length === paths.length && known.length > 0 ? known.reduce((sum, h) => sum + h.rate, 0) : undefined;
  return {
    ...metrics.close(rateAsked === undefined ? {} : { rateAsked }),
    files: stats.files,
    skippedLines: stats.skipped,
    sources: {
      hosts: [...new Set(known.map((h) => h.host))],
      aligned: coordinated ? 'wall-clock' : 'own-start',
      startedAt: coordinated ? new Date(base).toISOString() : null,
    },
  };
}
