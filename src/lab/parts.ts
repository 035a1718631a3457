import { spawnDemoApp } from '../app/index.js';
import { runLoad } from '../load/index.js';
import { readFdStats, readListenQueue } from '../proc/index.js';
import { findNginx, startProxy } from '../proxy/index.js';
import type { ProxyKind } from './types.js';

/*
 * What the lab uses of the other parts (app, load, proxy, proc), typed by their contracts in
 * DESIGN.md: the narrow surface the lab depends on. `loadParts()` binds them to the real modules.
 */

/** Options the lab gives `startProxy` (a subset of the proxy part's options). */
export interface LabProxyOptions {
  kind: ProxyKind;
  upstream: string;
  listenPort?: number;
  keepalive: number;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  sendTimeoutMs: number;
  nextUpstream?: boolean;
}

/** The proxy handle as the lab uses it. */
export interface LabProxy {
  readonly kind: ProxyKind;
  readonly url: string;
  readonly pid: number;
  readonly errorLogPath: string;
  readErrorLog?(): Promise<string>;
  close(): Promise<void>;
}

/** Options the lab gives `spawnDemoApp`. */
export interface LabDemoAppOptions {
  port?: number;
  host?: string;
  unixSocket?: string;
  backlog?: number;
  keepAliveTimeoutMs?: number;
  sync?: boolean;
  workMs?: number;
  fdLimit?: number;
  guard?: boolean;
}

/** A demo app child process. */
export interface LabDemoApp {
  readonly pid: number;
  readonly url: string;
  readonly port?: number;
  readonly unixSocket?: string;
  close(): Promise<void>;
}

/** One timeline bucket of the load generator. */
export interface LabTimelineBucket {
  tMs: number;
  sent: number;
  statusCodes: Record<string, number>;
  errors: Record<string, number>;
  p50: number | null;
  p99: number | null;
}

/** The load generator's metrics, as the lab reads them. */
export interface LabLoadMetrics {
  requests: number;
  rate: { asked: number; achieved: number };
  durationMs: number;
  latenciesMs: { min: number; mean: number; p50: number; p90: number; p95: number; p99: number; max: number };
  statusCodes: Record<string, number>;
  errors: Record<string, number>;
  timeline: LabTimelineBucket[];
}

/** Progress of a load run. */
export interface LabLoadProgress {
  elapsedMs: number;
  durationMs: number;
  sent: number;
  done: number;
  inflight: number;
  errors: number;
  success: number;
}

/** Options the lab gives `runLoad`. */
export interface LabLoadOptions {
  url?: string;
  /** Several requests, sent round-robin (instead of `url`). */
  targets?: { method: string; url: string; headers: Record<string, string>; body?: string }[];
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  rate: number;
  durationMs: number;
  timeoutMs: number;
  keepAlive: boolean;
  connections: number;
  bucketMs: number;
  signal?: AbortSignal;
  onProgress?: (p: LabLoadProgress) => void;
  onResult?: (r: { status: number; error: string }) => void;
}

/** A listener's accept queue. */
export interface LabListenQueue {
  queue: number | null;
  backlog: number | null;
}

/** The other parts, as functions the lab calls. */
export interface LabParts {
  startProxy(options: LabProxyOptions): Promise<LabProxy>;
  /** Path of nginx, or undefined when it is not installed. */
  findNginx(): string | undefined;
  runLoad(options: LabLoadOptions): Promise<LabLoadMetrics>;
  spawnDemoApp(options: LabDemoAppOptions): Promise<LabDemoApp>;
  readFdStats(pid: number): Promise<{ open: number; soft: number | null }>;
  readListenQueue(target: { port: number; host?: string } | { unixSocket: string }): Promise<LabListenQueue | undefined>;
}

let cached: LabParts | undefined;

/** The real parts: src/proxy, src/load, src/app and src/proc. */
export async function loadParts(): Promise<LabParts> {
  cached ??= {
    startProxy: (options) => startProxy(options),
    findNginx,
    runLoad: (options) => runLoad(options),
    spawnDemoApp: (options) => spawnDemoApp(options),
    readFdStats,
    // No owner lookup: it scans every process's fds (about 1 s on a busy machine), and the lab knows the pid.
    readListenQueue: (target) => readListenQueue(target, { owners: false }),
  };
  return cached;
}
