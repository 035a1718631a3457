/**
 * Time buckets for log timelines. Both nginx logs write local time without (error log) or with
 * (access log) an offset; buckets keep the wall-clock time as written, as `YYYY-MM-DDTHH:MM`, so
 * the timeline reads like the log.
 */
import { CLF_MONTHS } from '../causes/index.js';

/** `2026/11/26 07:47:01` (error log) → `2026-11-26T07:47:01`; undefined if malformed. */
export function parseErrorLogTime(time: string): string | undefined {
  if (time.length !== 19) return undefined;
  return `${time.slice(0, 4)}-${time.slice(5, 7)}-${time.slice(8, 10)}T${time.slice(11)}`;
}

/** `26/Nov/2026:07:47:01 +0000` (access log `$time_local`) → `2026-11-26T07:47:01`. */
export function parseTimeLocal(time: string): string | undefined {
  const month = CLF_MONTHS[time.slice(3, 6)];
  if (!month || time.length < 20) return undefined;
  return `${time.slice(7, 11)}-${month}-${time.slice(0, 2)}T${time.slice(12, 20)}`;
}

/** `2026-11-26T07:47:01…` (ISO 8601, `$time_iso8601`) → the first 19 characters. */
export function parseIsoTime(time: string): string | undefined {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(time) ? time.slice(0, 19) : undefined;
}

/**
 * Maps a wall-clock time `YYYY-MM-DDTHH:MM:SS` to the start of its bucket of `bucketS` seconds
 * (`YYYY-MM-DDTHH:MM:SS`). Caches the last minute so a log's run of equal minutes costs one compare.
 */
export function createBucketer(bucketS: number): (time: string) => string {
  let lastKey = '';
  let lastBucket = '';
  const perMinute = bucketS % 60 === 0;
  return (time) => {
    const key = perMinute ? time.slice(0, 16) : time;
    if (key === lastKey) return lastBucket;
    const ms = Date.UTC(
      Number(time.slice(0, 4)),
      Number(time.slice(5, 7)) - 1,
      Number(time.slice(8, 10)),
      Number(time.slice(11, 13)),
      Number(time.slice(14, 16)),
      Number(time.slice(17, 19)),
    );
    if (!Number.isFinite(ms)) return 'invalid';
    const start = Math.floor(ms / (bucketS * 1000)) * bucketS * 1000;
    lastKey = key;
    lastBucket = new Date(start).toISOString().slice(0, 19);
    return lastBucket;
  };
}
