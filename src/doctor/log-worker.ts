/**
 * Worker thread of summarizeErrorLogs: classifies the lines starting in one byte range of one file
 * and posts back its summary (or the error, as code + message).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isBadgatewayError } from '../errors/index.js';
import { ErrorLogAggregator, type LogWorkerJob } from './error-log.js';
import { readLines } from './lines.js';

const job = workerData as LogWorkerJob;
try {
  const aggregator = new ErrorLogAggregator(job.summary);
  const r = await readLines(job.file, (line, truncated) => aggregator.add(line, truncated), {
    maxLineChars: job.maxLineChars,
    chunkBytes: job.chunkBytes,
    range: { start: job.start, end: job.end },
  });
  aggregator.addFile({ file: job.file, lines: r.lines, bytes: r.bytes, gzip: false, truncatedLines: r.truncated });
  parentPort?.postMessage({ summary: aggregator.summary() });
} catch (err) {
  parentPort?.postMessage({
    error: isBadgatewayError(err)
      ? { code: err.code, message: err.message }
      : { code: 'BG_UNREADABLE', message: String(err) },
  });
}
