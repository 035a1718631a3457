import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { debug } from '../util/index.js';
import { loadNginxConfig, type NginxConfigFacts } from './nginx-config.js';
import {
  dumpRunningConfig,
  findRunningNginx,
  masterErrorLog,
  type RunningNginx,
  type RunningWorker,
} from './nginx-running.js';
import type { DoctorOptions } from './options.js';
import { readAccountDb, resolveUserSpec, type AccountDb, type WorkerIdentity } from '../proc/index.js';

/** One proxy configuration doctor read, with the workers that run it when it is a running nginx. */
export interface ProxyConfig extends NginxConfigFacts {
  /** The master's pid when read from a running nginx. */
  masterPid: number | null;
  /** Its workers' credentials and fd limits (empty for a file). */
  workers: RunningWorker[];
  /** Who its workers run as, when it can be told (see {@link resolveWorkerIdentity}). */
  workerIdentity: WorkerIdentity | null;
}

/** What doctor knows of the proxy in front of the app. Plain JSON. */
export interface ProxyContext {
  configs: ProxyConfig[];
  /** `--proxy-user`: overrides every other source of the worker user. */
  proxyUser: WorkerIdentity | null;
  /** What could not be read (one line each; also printed to stderr by the CLI). */
  unseen: string[];
}

/** An empty context: nothing known about the proxy. */
export const NO_PROXY_CONTEXT: ProxyContext = Object.freeze({
  configs: [],
  proxyUser: null,
  unseen: [],
}) as ProxyContext;

/**
 * Who a config's workers run as: the running workers' effective uid/gid and groups (the truth);
 * else the config's `user` (nginx's default `nobody` when none is set and nginx would start as
 * root); null when the user does not exist on this machine.
 */
export function resolveWorkerIdentity(
  config: NginxConfigFacts,
  workers: readonly RunningWorker[],
  db: AccountDb,
): WorkerIdentity | null {
  const w = workers[0];
  if (w)
    return {
      user: db.userName(w.uid) ?? null,
      uid: w.uid,
      gid: w.gid,
      group: db.groupName(w.gid) ?? null,
      groups: w.groups,
      from: `running nginx workers (pid ${workers.map((x) => x.pid).join(', ')})`,
    };
  const spec = config.user ? `${config.user.user}${config.user.group ? ` ${config.user.group}` : ''}` : 'nobody';
  return (
    resolveUserSpec(
      spec,
      db,
      config.user ? `nginx config (user ${spec})` : 'nginx default (user nobody, no user directive)',
    ) ?? null
  );
}

/**
 * Reads the proxy's configuration: every `--nginx-conf` file, else (with `discoverProxy`) the
 * running nginx masters — those writing one of the given error logs when logs are given, all of
 * them otherwise — through `nginx -T`. Never throws: what cannot be read goes to `unseen`.
 */
export async function loadProxyContext(options: DoctorOptions): Promise<ProxyContext> {
  const db = readAccountDb();
  const unseen: string[] = [];
  const configs: ProxyConfig[] = [];
  let proxyUser: WorkerIdentity | null = null;
  if (options.proxyUser) {
    proxyUser = resolveUserSpec(options.proxyUser, db, '--proxy-user') ?? null;
    if (!proxyUser) unseen.push(`--proxy-user ${options.proxyUser}: no such user on this machine`);
  }
  for (const file of options.nginxConfs) {
    try {
      const facts = loadNginxConfig(file);
      configs.push({ ...facts, masterPid: null, workers: [], workerIdentity: resolveWorkerIdentity(facts, [], db) });
    } catch (err) {
      unseen.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (options.nginxConfs.length === 0 && options.discoverProxy) {
    for (const m of pickMasters(findRunningNginx(), options.errorLogs)) {
      try {
        const facts = await dumpRunningConfig(m);
        configs.push({
          ...facts,
          masterPid: m.masterPid,
          workers: m.workers,
          workerIdentity: resolveWorkerIdentity(facts, m.workers, db),
        });
      } catch (err) {
        unseen.push(
          `nginx -T of the running nginx (pid ${m.masterPid}) failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
        );
      }
    }
  }
  debug('doctor: %d proxy config(s), %d unseen', configs.length, unseen.length);
  return { configs, proxyUser, unseen };
}

/** Masters that write one of `errorLogs` (by -e, or a config naming it); every master when no log is given. */
function pickMasters(masters: RunningNginx[], errorLogs: readonly string[]): RunningNginx[] {
  const files = errorLogs.filter((f) => f !== '-').map((f) => resolve(f));
  if (errorLogs.length === 0) return masters;
  return masters.filter((m) => {
    const e = masterErrorLog(m);
    if (e !== undefined) return files.includes(e);
    // No -e: the config's error_log decides; a cheap look at the main file before any nginx -T.
    return m.conf !== undefined && files.some((f) => mentions(resolve(m.prefix ?? '/', m.conf!), f));
  });
}

function mentions(conf: string, file: string): boolean {
  try {
    return readFileSync(conf, 'utf8').includes(file);
  } catch {
    return false;
  }
}
