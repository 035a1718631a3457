import { spawnDemoApp, type SpawnDemoAppOptions, type SpawnedDemoApp } from '../app/index.js';
import { runLoad } from '../load/index.js';
import { readFdStats, readListenQueue, type ListenQueue, type SocketTarget } from '../proc/index.js';
import { findCaddy, findHaproxy, findNginx, startProxy, type ProxyHandle } from '../proxy/index.js';

/*
 * The other parts (app, load, proxy, proc) as the lab calls them, typed by the parts themselves:
 * `loadParts()` binds them to the real modules; the seam lets the phase runner be driven alone.
 */

/** Options the lab gives `spawnDemoApp`. */
export type LabDemoAppOptions = SpawnDemoAppOptions;
/** A demo app child process. */
export type LabDemoApp = SpawnedDemoApp;
/** The proxy handle as the lab uses it. */
export type LabProxy = ProxyHandle;

/** The other parts, as functions the lab calls. */
export interface LabParts {
  startProxy: typeof startProxy;
  /** Path of nginx, or undefined when it is not installed. */
  findNginx: typeof findNginx;
  /** Path of HAProxy / Caddy, or undefined when not installed. */
  findHaproxy: typeof findHaproxy;
  findCaddy: typeof findCaddy;
  runLoad: typeof runLoad;
  spawnDemoApp: typeof spawnDemoApp;
  readFdStats: typeof readFdStats;
  readListenQueue(target: SocketTarget): Promise<ListenQueue | undefined>;
}

let cached: LabParts | undefined;

/** The real parts: src/proxy, src/load, src/app and src/proc. */
export async function loadParts(): Promise<LabParts> {
  cached ??= {
    startProxy,
    findNginx,
    findHaproxy,
    findCaddy,
    runLoad,
    spawnDemoApp,
    readFdStats,
    // No owner lookup: it scans every process's fds (about 1 s on a busy machine), and the lab knows the pid.
    readListenQueue: (target) => readListenQueue(target, { owners: false }),
  };
  return cached;
}
