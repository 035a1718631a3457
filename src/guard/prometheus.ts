import type { Guard } from './guard.js';
import { METRICS, metricsOf, type MetricSpec } from '../metrics/index.js';
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
  Gauge: new (
    config: never,
  ) => unknown;
  Counter: new (config: never) => unknown;
}

type MetricConstructor = new (config: MetricConfig) => unknown;

export interface PromCollectorOptions {
  /** prom-client Registry to register on; default prom-client's global `register`. */
  registry?: unknown;
  /**
   * Replaces the leading `badgateway_` of every name. Default `badgateway_`: the names the
   * mixin's rules, alerts and dashboard read (and `doctor --prometheus` shares).
   */
  prefix?: string;
}

/** Names of the metrics {@link registerGuardMetrics} registers (with the default prefix). */
export const GUARD_METRIC_NAMES: readonly string[] = Object.freeze(metricsOf('guard').map((m) => m.name));

/**
 * Registers the guard's numbers as prom-client metrics, read at scrape time from
 * `guard.metrics()` (nothing runs between scrapes): the process's open fds and their limit (the
 * names doctor uses for the same facts), requests in flight, event-loop delay, heap used ratio,
 * requests shed by reason and admitted, reaped idle connections, open/idle connections.
 *
 * ```ts
 * import * as promClient from 'prom-client';
 * registerGuardMetrics(guard, promClient);
 * ```
 */
export function registerGuardMetrics(
  guard: Guard,
  promClient: PromClientLike,
  options: PromCollectorOptions = {},
): void {
  const Gauge = promClient.Gauge as unknown as MetricConstructor;
  const Counter = promClient.Counter as unknown as MetricConstructor;
  const prefix = options.prefix ?? 'badgateway_';
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
  const register = (spec: MetricSpec, collect: (this: MetricThis) => void): void => {
    const Metric = spec.type === 'counter' ? Counter : Gauge;
    new Metric({
      name: prefix + spec.name.slice('badgateway_'.length),
      help: spec.help,
      labelNames: [...(spec.labels.guard ?? [])],
      ...(registers ? { registers } : {}),
      collect,
    });
  };
  const single = (spec: MetricSpec, value: () => number | null): void =>
    register(spec, function collect() {
      const v = value();
      this.reset();
      if (v === null) return;
      if (spec.type === 'counter') (this.inc as (v: number) => void)(v);
      else (this.set as (v: number) => void)(v);
    });
  single(METRICS.processOpenFds, () => read().fdsOpen);
  single(METRICS.processMaxFds, () => read().fdsLimit);
  single(METRICS.guardInflightRequests, () => read().inflight);
  single(METRICS.guardEventLoopDelaySeconds, () => read().eventLoopDelayMs / 1000);
  single(METRICS.guardHeapUsedRatio, () => read().heapUsedRatio);
  single(METRICS.guardConnectionsOpen, () => read().sockets.tracked);
  single(METRICS.guardConnectionsIdle, () => read().sockets.idle);
  single(METRICS.guardRequestsAdmittedTotal, () => read().admittedTotal);
  single(METRICS.guardReapedConnectionsTotal, () => read().reapedTotal);
  register(METRICS.guardRequestsShedTotal, function collect() {
    const shed = read().shedTotal;
    this.reset();
    for (const reason of SHED_REASON_LIST)
      (this.inc as (l: Record<string, string>, v: number) => void)({ reason }, shed[reason]);
  });
}
