import { readFile, writeFile } from 'node:fs/promises';
import { LINE, createLogLineClassifier, getProxyView, type CauseId, type FastClassification, type ProxyLogFormat } from '../causes/index.js';
import { renderNginxConfig, resolveOptions } from '../proxy/index.js';
import { debug } from '../util/index.js';
import type { LabParts, LabProxy } from './parts.js';
import type { PhaseCompanion, PhaseSpec } from './scenario.js';
import type { ClassifiedLine, PhaseName, PhaseResult, ProxyKind, UpstreamSample } from './types.js';
import { startUpstream, type UpstreamHandle } from './upstream.js';

/** Live progress of a phase's load. */
export interface PhaseProgress {
  phase: PhaseName;
  elapsedMs: number;
  durationMs: number;
  sent: number;
  /** Finished requests by status (`0` = no response). */
  statusCodes: Record<string, number>;
}

/** Resources open right now, so an interrupted run (or a second Ctrl-C) can close them. */
export interface ResourceTracker {
  track(resource: { close(): Promise<void> }): () => void;
}

/** What a phase runs in. */
export interface PhaseEnv {
  parts: LabParts;
  proxyKind: ProxyKind;
  causeId: CauseId;
  /** The scenario's own directory (unix sockets, Python apps). */
  dir: string;
  sampleIntervalMs: number;
  /** Keep at most this many classified lines per phase (counts are over all). */
  maxLogLines: number;
  resources: ResourceTracker;
  signal?: AbortSignal;
  onProgress?: (p: PhaseProgress) => void;
  /** Runs doctor on the upstream and the proxy log after the load; omitted = not run. */
  doctor?: (target: {
    pid: number | null;
    target: { port: number } | { unixSocket: string };
    errorLogPath: string;
    logFormat: ProxyLogFormat;
    nginxConf?: string;
    appLog?: string;
  }) => Promise<PhaseResult['doctor']>;
}

/** Samples the upstream's fds and listen queue every `intervalMs` until stopped. */
function startSampler(upstream: UpstreamHandle, parts: LabParts, intervalMs: number): { stop(): Promise<UpstreamSample[]> } {
  const samples: UpstreamSample[] = [];
  const t0 = performance.now();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const sample = async (): Promise<void> => {
    const tMs = Math.round(performance.now() - t0);
    const pid = await upstream.samplePid().catch(() => null);
    const [fds, queue] = await Promise.all([
      pid === null ? null : parts.readFdStats(pid).catch(() => null),
      parts.readListenQueue(upstream.target).catch(() => undefined),
    ]);
    samples.push({
      tMs,
      fds: fds?.open ?? null,
      fdLimit: fds?.soft ?? null,
      listenQueue: queue?.queue ?? null,
      listenBacklog: queue?.backlog ?? null,
      inflight: upstream.inflight(),
    });
  };
  const tick = (): void => {
    running = sample().finally(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      return samples;
    },
  };
}

/** The log format a proxy of the lab writes (the built-in proxy writes nginx's). */
export function logFormatOf(proxy: ProxyKind): ProxyLogFormat {
  return proxy === 'builtin' ? 'nginx' : proxy;
}

/**
 * Classifies every line of a proxy's log (nginx's error log, HAProxy's httplog, Caddy's JSON log)
 * against the scenario's cause, in the format of `proxy`.
 */
export function classifyErrorLog(text: string, causeId: CauseId, maxLines: number, proxy: ProxyKind = 'nginx'): PhaseResult['proxyLog'] {
  const format = logFormatOf(proxy);
  const view = getProxyView(causeId, format);
  const signals = view && 'signals' in view ? view.signals : [];
  const classifier = createLogLineClassifier(format);
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const classified: ClassifiedLine[] = [];
  const byPattern: Record<string, number> = {};
  let causeLines = 0;
  for (const line of lines) {
    const c = {} as FastClassification;
    if (classifier.classify(line, c).kind !== LINE.FAILURE) continue;
    byPattern[c.patternId] = (byPattern[c.patternId] ?? 0) + 1;
    // A line is evidence of the cause when its pattern names the cause, or the proxy's view of the cause lists it.
    const matchesCause = c.causes.includes(causeId) || signals.includes(c.patternId);
    if (matchesCause) causeLines += 1;
    if (classified.length < maxLines) {
      classified.push({ line, patternId: c.patternId, causes: c.causes, status: c.status, level: c.level, matchesCause });
    }
  }
  return { lines: lines.length, classified, byPattern, causeLines };
}

/**
 * The proxy's config for doctor: nginx's own file, or for the built-in proxy the nginx config of the
 * same options (it follows nginx's semantics: the same pool, the same timeouts).
 */
async function proxyConfigFile(proxy: LabProxy, spec: PhaseSpec, dir: string, phase: PhaseName, kind: ProxyKind): Promise<string | undefined> {
  // doctor reads nginx configurations; HAProxy's and Caddy's it does not (their logs still count).
  if (kind === 'haproxy' || kind === 'caddy') return undefined;
  if ('configPath' in proxy && typeof proxy.configPath === 'string') return proxy.configPath;
  const path = `${dir}/${phase}-builtin-equivalent.conf`;
  const resolved = resolveOptions({ upstream: proxy.upstream, keepalive: spec.proxy.keepalive, connectTimeoutMs: spec.proxy.connectTimeoutMs, readTimeoutMs: spec.proxy.readTimeoutMs, sendTimeoutMs: spec.proxy.readTimeoutMs });
  const paths = { prefix: dir, conf: path, pid: `${dir}/x.pid`, errorLog: proxy.errorLogPath, accessLog: proxy.accessLogPath, temp: dir };
  await writeFile(path, renderNginxConfig(resolved, proxy.port, paths));
  return path;
}

const EMPTY_CLIENT: PhaseResult['client'] = {
  requests: 0,
  rate: { asked: 0, achieved: 0 },
  durationMs: 0,
  latenciesMs: { min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 },
  statusCodes: {},
  errors: {},
  bucketMs: 200,
  timeline: [],
};

const BUCKET_MS = 200;

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/**
 * Runs one phase: upstream → (prepare) → proxy → load at a fixed rate with the upstream sampled
 * → stop → the proxy's error log classified. Everything it started is closed before it returns,
 * also when it fails or is aborted; a failure is recorded in `error`, never thrown.
 */
export async function runPhase(name: PhaseName, spec: PhaseSpec, env: PhaseEnv): Promise<PhaseResult> {
  const started = performance.now();
  const mark = (what: string): void => debug('lab: %s phase: %s at %d ms', name, what, Math.round(performance.now() - started));
  const result: PhaseResult = {
    name,
    description: spec.description,
    durationMs: 0,
    client: EMPTY_CLIENT,
    gatewayErrors: 0,
    samples: [],
    proxyLog: { lines: 0, classified: [], byPattern: {}, causeLines: 0 },
    notes: [],
    doctor: null,
    childPids: [],
  };
  const closers: (() => Promise<void>)[] = [];
  const own = <T extends { close(): Promise<void> }>(resource: T): T => {
    const untrack = env.resources.track(resource);
    closers.push(async () => {
      try {
        await resource.close();
      } finally {
        untrack();
      }
    });
    return resource;
  };
  let proxy: LabProxy | undefined;
  let upstream: UpstreamHandle | undefined;
  try {
    env.signal?.throwIfAborted();
    const socketPath = `${env.dir}/${spec.socketName ?? `${name}.sock`}`;
    upstream = own(await startUpstream(spec.upstream, env.parts, env.dir, socketPath));
    result.childPids.push(...upstream.childPids);
    result.upstream = { pid: await upstream.samplePid().catch(() => null), ...upstream.target };
    mark(`upstream up (pids ${upstream.childPids.join(', ') || 'none: in process'})`);
    const prepared = await spec.prepare?.(upstream);
    if (prepared) result.notes.push(...prepared);
    env.signal?.throwIfAborted();
    proxy = own(
      await env.parts.startProxy({
        kind: env.proxyKind,
        upstream: upstream.url,
        keepalive: spec.proxy.keepalive,
        connectTimeoutMs: spec.proxy.connectTimeoutMs,
        readTimeoutMs: spec.proxy.readTimeoutMs,
        sendTimeoutMs: spec.proxy.readTimeoutMs,
      }),
    );
    debug('lab: started %s proxy pid %d at %s', proxy.kind, proxy.pid, proxy.url);
    if (proxy.pid !== process.pid) result.childPids.push(proxy.pid);
    mark('proxy up');

    const sampler = startSampler(upstream, env.parts, env.sampleIntervalMs);
    let companion: PhaseCompanion | undefined;
    const statusCodes: Record<string, number> = {};
    try {
      companion = spec.alongside ? own(spec.alongside(upstream)) : undefined;
      await companion?.ready;
      mark('load starts');
      const paths = typeof spec.load.path === 'string' ? [spec.load.path] : spec.load.path;
      const method = spec.load.method ?? 'GET';
      const proxyUrl = proxy.url;
      const headers: Record<string, string> = spec.load.body === undefined ? {} : { 'content-type': 'text/plain' };
      const timeoutMs = spec.proxy.connectTimeoutMs + spec.proxy.readTimeoutMs + 2000;
      const metrics = await env.parts.runLoad({
        ...(paths.length === 1
          ? { url: `${proxyUrl}${paths[0]}`, method, headers, ...(spec.load.body === undefined ? {} : { body: spec.load.body }) }
          : { targets: paths.map((p) => ({ method, url: `${proxyUrl}${p}`, headers, ...(spec.load.body === undefined ? {} : { body: spec.load.body }) })) }),
        rate: spec.load.rate,
        durationMs: spec.load.durationMs,
        timeoutMs,
        keepAlive: spec.load.clientKeepAlive ?? true,
        connections: Math.min(1000, Math.ceil((spec.load.rate * timeoutMs) / 1000) + 10),
        bucketMs: BUCKET_MS,
        ...(env.signal ? { signal: env.signal } : {}),
        onResult: (r) => {
          const key = String(r.status);
          statusCodes[key] = (statusCodes[key] ?? 0) + 1;
        },
        onProgress: (p) =>
          env.onProgress?.({ phase: name, elapsedMs: p.elapsedMs, durationMs: p.durationMs, sent: p.sent, statusCodes: { ...statusCodes } }),
      });
      result.client = {
        requests: metrics.requests,
        rate: metrics.rate,
        durationMs: metrics.durationMs,
        latenciesMs: metrics.latenciesMs,
        statusCodes: metrics.statusCodes,
        errors: metrics.errors,
        bucketMs: BUCKET_MS,
        timeline: metrics.timeline.map((b) => ({ tMs: b.tMs, sent: b.sent, statusCodes: b.statusCodes, errors: b.errors, p50: b.p50, p99: b.p99 })),
      };
      result.gatewayErrors = (metrics.statusCodes['502'] ?? 0) + (metrics.statusCodes['504'] ?? 0);
      // Before anything stops: the upstream is still in the state the load left it in.
      if (env.doctor) {
        const nginxConf = await proxyConfigFile(proxy, spec, env.dir, name, env.proxyKind);
        const appLog = await upstream.writeLog?.(`${env.dir}/${name}-app.log`);
        result.doctor = await env.doctor({
          pid: await upstream.samplePid(),
          target: upstream.target,
          errorLogPath: proxy.errorLogPath,
          logFormat: logFormatOf(env.proxyKind),
          ...(nginxConf ? { nginxConf } : {}),
          ...(appLog ? { appLog } : {}),
        });
      }
    } finally {
      mark('load done');
      result.samples = await sampler.stop();
      if (companion) result.notes.push(...companion.notes());
    }
    const log = proxy.readErrorLog ? await proxy.readErrorLog() : await readFile(proxy.errorLogPath, 'utf8');
    result.proxyLog = classifyErrorLog(log, env.causeId, env.maxLogLines, env.proxyKind);
    result.notes.push(...upstream.notes());
  } catch (err) {
    result.error = errorMessage(err);
    debug('lab: phase %s failed: %o', name, err);
    // What the proxy logged until then still tells the story.
    if (proxy && result.proxyLog.lines === 0) {
      try {
        const log = proxy.readErrorLog ? await proxy.readErrorLog() : await readFile(proxy.errorLogPath, 'utf8');
        result.proxyLog = classifyErrorLog(log, env.causeId, env.maxLogLines, env.proxyKind);
      } catch {
        // The log went with the proxy.
      }
    }
  } finally {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        debug('lab: cleanup failed: %o', err);
      }
    }
    mark('closed');
    result.durationMs = Math.round(performance.now() - started);
  }
  return result;
}
