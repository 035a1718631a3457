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

/** A JSON object of one line, or undefined. */
function parseObject(line: string): Record<string, unknown> | undefined {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return undefined;
  }
  return typeof o === 'object' && o !== null ? (o as Record<string, unknown>) : undefined;
}

/** A finite number field of `o`, or undefined. */
const numberIn =
  (o: Record<string, unknown>) =>
  (k: string): number | undefined =>
    typeof o[k] === 'number' && Number.isFinite(o[k]) ? (o[k] as number) : undefined;

/** Parses one NDJSON record; undefined when the line is not a result record. */
export function decodeResult(line: string): LoadResult | undefined {
  const r = parseObject(line);
  if (!r) return undefined;
  const num = numberIn(r);
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

/** Version of the result files' header record. */
export const RESULTS_SCHEMA = 'badgateway.load.results/v1';

/**
 * The first line of a result file: who sent the requests and when their times count from, so
 * `report` can put files from several machines on one timeline. Older readers skip it (it has no
 * `seq`); files without it still read.
 */
export interface ResultsHeader {
  type: 'header';
  schema: typeof RESULTS_SCHEMA;
  /** `os.hostname()` of the machine that ran the load. */
  host: string;
  pid: number;
  /** The wall-clock instant every `dueMs`/`sentMs` counts from (ISO 8601 and ms since the epoch). */
  startedAt: string;
  startedAtMs: number;
  /** True when the start was agreed beforehand (`--start-at`): files then align on the wall clock. */
  coordinated: boolean;
  /** This run's asked rate (req/s; 0 = closed loop) and, with a share, the rate of all the runs. */
  rate: number;
  rateTotal: number;
  /** `i/n` with `--rate-share`, else null. */
  rateShare: string | null;
  durationMs: number;
}

/** The header line (with the newline). */
export function encodeHeader(h: ResultsHeader): string {
  return `${JSON.stringify(h)}\n`;
}

/** Parses a header line; undefined when the line is not one (a result, garbage, another schema). */
export function decodeHeader(line: string): ResultsHeader | undefined {
  const h = parseObject(line);
  if (!h || h['type'] !== 'header' || h['schema'] !== RESULTS_SCHEMA) return undefined;
  const num = numberIn(h);
  const startedAtMs = num('startedAtMs');
  // Within what a Date can hold (a hostile value must not throw below).
  if (startedAtMs === undefined || startedAtMs < 0 || startedAtMs > 8.64e15) return undefined;
  const rate = num('rate') ?? 0;
  return {
    type: 'header',
    schema: RESULTS_SCHEMA,
    host: typeof h['host'] === 'string' ? h['host'].slice(0, 255) : '',
    pid: num('pid') ?? 0,
    startedAt: new Date(startedAtMs).toISOString(),
    startedAtMs,
    coordinated: h['coordinated'] === true,
    rate,
    rateTotal: num('rateTotal') ?? rate,
    rateShare: typeof h['rateShare'] === 'string' ? h['rateShare'].slice(0, 32) : null,
    durationMs: num('durationMs') ?? 0,
  };
}
