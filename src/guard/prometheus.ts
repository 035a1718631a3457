import type { Guard } from './guard.js';
import { SHED_REASON_LIST } from './reasons.js';

/** The part of a prom-client metric's `this` inside `collect()` the collector uses. */
interface MetricThis {
  set?(value: number): void;
  set?(labels: Record<string, string>, value: number): void;
  inc?(labels: Record<string, string>, value: number): void;
  inc?(value: number): void;
  reset(): void;
}

interface MetricConfig {
  name: string;
  help: string;
  labelNames?: string[];
  registers?: unknown[];
  collect?: (this: MetricThis) => void;
}

/**
 * The part of the `prom-client` module the collector uses: pass the module itself
 * (`import * as promClient from 'prom-client'`). Guard never imports prom-client, so it stays
 * an optional peer dependency.
 */
export interface PromClientLike {
  // `never`: any constructor fits; prom-client's own config types need not be imported.
  Gauge: new (config: never) => unknown;
  Counter: new (config: never) => unknown;
}

type MetricConstructor = new (config: MetricConfig) => unknown;

export interface PromCollectorOptions {
  /** prom-client Registry to register on; default prom-client's global `register`. */
  registry?: unknown;
  /** Metric name prefix. Default `badgateway_guard_`. */
  prefix?: string;
}

/** Names of the metrics {@link registerGuardMetrics} registers, without the prefix. */
export const GUARD_METRIC_NAMES = Object.freeze([
  'fds_open',
  'fds_limit',
  'inflight',
  'event_loop_delay_seconds',
  'heap_used_ratio',
  'shed_total',
  'reaped_sockets_total',
  'sockets_open',
  'sockets_idle',
] as const);

/**
 * Registers the guard's numbers as prom-client metrics, read at scrape time from
 * `guard.metrics()` (nothing runs between scrapes): fds open/limit, inflight, event-loop delay,
 * heap used ratio, shed total by reason, reaped idle sockets, open/idle sockets.
 *
 * ```ts
 * import * as promClient from 'prom-client';
 * registerGuardMetrics(guard, promClient);
 * ```
 */
export function registerGuardMetrics(guard: Guard, promClient: PromClientLike, options: PromCollectorOptions = {}): void {
  const Gauge = promClient.Gauge as unknown as MetricConstructor;
  const Counter = promClient.Counter as unknown as MetricConstructor;
  const prefix = options.prefix ?? 'badgateway_guard_';
  const registers = options.registry === undefined ? undefined : [options.registry];
  // One metrics() read per scrape, shared by every metric's collect().
  let snapshot = guard.metrics();
  let snapshotAt = -1;
  const read = () => {
    const now = Date.now();
    if (now !== snapshotAt) {
      snapshot = guard.metrics();
      snapshotAt = now;
    }
    return snapshot;
  };
  const gauge = (name: string, help: string, value: () => number | null): void => {
    new Gauge({
      name: prefix + name,
      help,
      ...(registers ? { registers } : {}),
      collect() {
        const v = value();
        this.reset();
        if (v !== null) (this.set as (v: number) => void)(v);
      },
    });
  };
  gauge('fds_open', 'Open file descriptors of this process.', () => read().fdsOpen);
  gauge('fds_limit', 'Soft RLIMIT_NOFILE of this process.', () => read().fdsLimit);
  gauge('inflight', 'Requests admitted by the guard and not yet answered.', () => read().inflight);
  gauge('event_loop_delay_seconds', 'Largest event-loop delay in the last sample window.', () => read().eventLoopDelayMs / 1000);
  gauge('heap_used_ratio', 'V8 heap used / heap size limit.', () => read().heapUsedRatio);
  gauge('sockets_open', 'Connections of the servers the guard is attached to.', () => read().sockets.tracked);
  gauge('sockets_idle', 'Of those, idle (no request in progress).', () => read().sockets.idle);
  new Counter({
    name: `${prefix}shed_total`,
    help: 'Requests answered 503 by the guard, by reason.',
    labelNames: ['reason'],
    ...(registers ? { registers } : {}),
    collect() {
      const shed = read().shedTotal;
      this.reset();
      for (const reason of SHED_REASON_LIST) (this.inc as (l: Record<string, string>, v: number) => void)({ reason }, shed[reason]);
    },
  });
  new Counter({
    name: `${prefix}reaped_sockets_total`,
    help: 'Idle keep-alive sockets closed by the guard under fd pressure.',
    ...(registers ? { registers } : {}),
    collect() {
      this.reset();
      (this.inc as (v: number) => void)(read().reapedTotal);
    },
  });
}
