import type { Readable } from 'node:stream';
import { BadgatewayError, ERROR_CODES } from '../errors/index.js';
import { createMetrics, type LoadMetrics } from './metrics.js';
import { START_AT_LIMITS } from './options.js';
import { openResultsFile, STDIO_PATH, type OpenResultsFile } from './results-file.js';
import type { ResultsHeader } from './result.js';

/** Where a summary's requests came from. */
export interface ResultsSources {
  /** Distinct host names of the files' headers, in file order. */
  hosts: string[];
  /**
   * `wall-clock`: every file has a header from a `--start-at` run, so each is placed at its own
   * start instant and `startedAt` is the earliest; `own-start`: files are overlaid as if they had
   * started together (runs without an agreed start, or older files without a header).
   */
  aligned: 'wall-clock' | 'own-start';
  /** The instant the summary's timeline's 0 is (wall-clock alignment only). */
  startedAt: string | null;
}

/** The metrics of all the files' requests, with where they came from: what `badgateway report` renders. */
export interface ResultsSummary extends LoadMetrics {
  files: number;
  /** Lines that were not result records. */
  skippedLines: number;
  sources: ResultsSources;
}

/** Options of {@link summarizeResultFiles}. */
export interface SummarizeOptions {
  /** Width of the timeline buckets in ms (default 1000). */
  bucketMs?: number;
  /** What `-` reads (default `process.stdin`). */
  stdin?: Readable;
}

/**
 * Summarizes result files (from several machines or runs; `-` is standard input): every record of
 * every file goes into one set of HDR histograms, so the totals, status codes and percentiles are
 * those of all the requests (exact, as vegeta's report: no averaging of per-file percentiles).
 * Files of a coordinated run (`load --start-at`) are placed on one wall-clock timeline; the asked
 * rate is the sum of the files' asked rates when their headers give it. A file with no result
 * record (empty, or only foreign lines) is `BG_UNKNOWN_FORMAT`: a report of nothing would read as
 * a run that sent nothing.
 */
export async function summarizeResultFiles(
  paths: readonly string[],
  { bucketMs = 1000, stdin }: SummarizeOptions = {},
): Promise<ResultsSummary> {
  if (paths.filter((p) => p === STDIO_PATH).length > 1) {
    throw new BadgatewayError(ERROR_CODES.BAD_OPTION, 'standard input (-) can be read only once');
  }
  const files: OpenResultsFile[] = [];
  try {
    for (const path of paths) files.push(await openResultsFile(path, stdin ? { stdin } : {}));
    const known = files.map((f) => f.header).filter((h): h is ResultsHeader => h !== undefined);
    const starts = known.map((h) => h.startedAtMs);
    // Runs of one coordinated test start within a day of each other (load refuses a start further
    // ahead); files further apart are separate runs, overlaid.
    const coordinated =
      known.length === files.length &&
      known.every((h) => h.coordinated) &&
      Math.max(...starts) - Math.min(...starts) <= START_AT_LIMITS.aheadMs;
    const base = coordinated ? Math.min(...starts) : 0;
    const metrics = createMetrics({ bucketMs });
    let skippedLines = 0;
    for (const file of files) {
      const counts = await file.drain((r) => metrics.add(r), coordinated ? file.header!.startedAtMs - base : 0);
      if (counts.records === 0) throw noRecords(file.path, counts.lines);
      skippedLines += counts.skipped;
    }
    // Asked rates add up when every file says what it was asked; else they are read from the due times.
    const rateAsked =
      known.length === files.length && known.length > 0 ? known.reduce((sum, h) => sum + h.rate, 0) : undefined;
    return {
      ...metrics.close(rateAsked === undefined ? {} : { rateAsked }),
      files: files.length,
      skippedLines,
      sources: {
        hosts: [...new Set(known.map((h) => h.host))],
        aligned: coordinated ? 'wall-clock' : 'own-start',
        startedAt: coordinated ? new Date(base).toISOString() : null,
      },
    };
  } finally {
    for (const file of files) file.close();
  }
}

function noRecords(path: string, lines: number): BadgatewayError {
  const name = path === STDIO_PATH ? 'standard input' : path;
  const what = lines === 0 ? 'is empty' : `has no result record in its ${lines} line${lines === 1 ? '' : 's'}`;
  return new BadgatewayError(
    ERROR_CODES.UNKNOWN_FORMAT,
    `${name} ${what} (expected NDJSON from \`badgateway load --output\`)`,
  );
}
