/**
 * One finished request: what the Attacker emits, Metrics aggregate and the NDJSON encoder writes.
 * Times are ms (µs precision) from the start of the run.
 */
export interface LoadResult {
  /** Sequence number, 0-based, in sending order. */
  seq: number;
  /** When the request was due by the pacer (closed loop: when its slot became free). */
  dueMs: number;
  /** When it was written to a connection (or handed to the pool, if it never got one). */
  sentMs: number;
  /** From the due time to the end of the response or the error: the corrected latency. */
  latencyMs: number;
  /** HTTP status, 0 when there was no response. */
  status: number;
  /** Response body bytes received. */
  bytesIn: number;
  /** Request body bytes sent. */
  bytesOut: number;
  /** Stable error code (see `LOAD_ERROR_CODES`), `''` when a response arrived. */
  error: string;
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;

/** One NDJSON line (with the newline) for a result. */
export function encodeResult(r: LoadResult): string {
  return `{"seq":${r.seq},"dueMs":${round3(r.dueMs)},"sentMs":${round3(r.sentMs)},"latencyMs":${round3(r.latencyMs)},"status":${r.status},"bytesIn":${r.bytesIn},"bytesOut":${r.bytesOut},"error":${r.error === '' ? '""' : JSON.stringify(r.error)}}\n`;
}

/** Parses one NDJSON record; undefined when the line is not a result record. */
export function decodeResult(line: string): LoadResult | undefined {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  const r = o as Record<string, unknown>;
  const num = (k: string): number | undefined => (typeof r[k] === 'number' && Number.isFinite(r[k]) ? (r[k] as number) : undefined);
  const seq = num('seq');
  const dueMs = num('dueMs');
  const latencyMs = num('latencyMs');
  if (seq === undefined || dueMs === undefined || latencyMs === undefined) return undefined;
  return {
    seq,
    dueMs,
    sentMs: num('sentMs') ?? dueMs,
    latencyMs,
    status: num('status') ?? 0,
    bytesIn: num('bytesIn') ?? 0,
    bytesOut: num('bytesOut') ?? 0,
    error: typeof r['error'] === 'string' ? r['error'] : '',
  };
}
