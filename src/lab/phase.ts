import { writeFile } from 'node:fs/promises';
import {
  LINE,
  createLogLineClassifier,
  getProxyView,
  type CauseId,
  type FastClassification,
  type ProxyLogFormat,
} from '../causes/index.js';
import { renderNginxConfig, resolveProxyOptions } from '../proxy/index.js';
import type { LoadMetrics, LoadOptions } from '../load/index.js';
import { createCloser, debug, type Closable, type Closer } from '../util/index.js';
import type { LabParts, LabProxy } from './parts.js';
import type { PhaseCompanion, PhaseSpec } from './scenario.js';
import type { ClassifiedLine, ClientView, PhaseName, PhaseResult, ProxyKind, UpstreamSample } from './types.js';
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
  /** Resources open right now, so an interrupted run (or a second Ctrl-C) can close them. */
  resources: Closer;
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
function startSampler(
  upstream: UpstreamHandle,
  parts: LabParts,
  intervalMs: number,
): { stop(): Promise<UpstreamSample[]> } {
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
export function classifyErrorLog(
  text: string,
  causeId: CauseId,
  maxLines: number,
  proxy: ProxyKind = 'nginx',
): PhaseResult['proxyLog'] {
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
      classified.push({
        line,
        patternId: c.patternId,
        causes: c.causes,
        status: c.status,
        level: c.level,
        matchesCause,
      });
    }
  }
  return { lines: lines.length, classified, byPattern, causeLines };
}

/**
 * The proxy's config for doctor: nginx's own file, or for the built-in proxy the nginx config of the
 * same options (it follows nginx's semantics: the same pool, the same timeouts).
 */
async function proxyConfigFile(
  proxy: LabProxy,
  spec: PhaseSpec,
  dir: string,
  phase: PhaseName,
  kind: ProxyKind,
): Promise<string | undefined> {
  // doctor reads nginx configurations; HAProxy's and Caddy's it does not (their logs still count).
  if (kind === 'haproxy' || kind === 'caddy') return undefined;
  if ('configPath' in proxy && typeof proxy.configPath === 'string') return proxy.configPath;
  const path = `${dir}/${phase}-builtin-equivalent.conf`;
  const resolved = resolveProxyOptions({
    upstream: proxy.upstream,
    keepalive: spec.proxy.keepalive,
    connectTimeoutMs: spec.proxy.connectTimeoutMs,
    readTimeoutMs: spec.proxy.readTimeoutMs,
    sendTimeoutMs: spec.proxy.readTimeoutMs,
  });
  const paths = {
    prefix: dir,
    conf: path,
    pid: `${dir}/x.pid`,
    errorLog: proxy.errorLogPath,
    accessLog: proxy.accessLogPath,
    temp: dir,
  };
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
 * The phase's load against the proxy at `proxyUrl`: the spec's paths round-robin, its rate and
 * duration, a deadline past the proxy's own timeouts (so the proxy's 504 arrives before ours), and
 * connections enough for every request in flight at that rate.
 */
export function phaseLoadOptions(spec: PhaseSpec, proxyUrl: string): LoadOptions {
  const paths = typeof spec.load.path === 'string' ? [spec.load.path] : spec.load.path;
  const method = spec.load.method ?? 'GET';
  const headers: Record<string, string> = spec.load.body === undefined ? {} : { 'content-type': 'text/plain' };
  const body = spec.load.body === undefined ? {} : { body: spec.load.body };
  const timeoutMs = spec.proxy.connectTimeoutMs + spec.proxy.readTimeoutMs + 2000;
  return {
    targets: paths.map((p) => ({ method, url: `${proxyUrl}${p}`, headers, ...body })),
    rate: spec.load.rate,
    durationMs: spec.load.durationMs,
    timeoutMs,
    keepAlive: spec.load.clientKeepAlive ?? true,
    connections: Math.min(1000, Math.ceil((spec.load.rate * timeoutMs) / 1000) + 10),
    bucketMs: BUCKET_MS,
  };
}

/** The proxy's log, classified against the scenario's cause. */
async function readProxyLog(proxy: LabProxy, env: PhaseEnv): Promise<PhaseResult['proxyLog']> {
  return classifyErrorLog(await proxy.readErrorLog(), env.causeId, env.maxLogLines, env.proxyKind);
}

/** The client's view of the load: the metrics the report shows. */
function clientView(metrics: LoadMetrics): ClientView {
  const { requests, rate, durationMs, latenciesMs, statusCodes, errors, bucketMs, timeline } = metrics;
  return { requests, rate, durationMs, latenciesMs, statusCodes, errors, bucketMs, timeline };
}

/** Runs doctor on the upstream and the proxy's log while the upstream is still as the load left it. */
async function diagnose(
  name: PhaseName,
  spec: PhaseSpec,
  env: PhaseEnv,
  proxy: LabProxy,
  upstream: UpstreamHandle,
): Promise<PhaseResult['doctor']> {
  if (!env.doctor) return null;
  const nginxConf = await proxyConfigFile(proxy, spec, env.dir, name, env.proxyKind);
  const appLog = await upstream.writeLog?.(`${env.dir}/${name}-app.log`);
  return env.doctor({
    pid: await upstream.samplePid(),
    target: upstream.target,
    errorLogPath: proxy.errorLogPath,
    logFormat: logFormatOf(env.proxyKind),
    ...(nginxConf ? { nginxConf } : {}),
    ...(appLog ? { appLog } : {}),
  });
}

/** The load phase proper: load through the proxy with the upstream sampled, then doctor. */
async function loadAndDiagnose(
  name: PhaseName,
  spec: PhaseSpec,
  env: PhaseEnv,
  parts: { proxy: LabProxy; upstream: UpstreamHandle; own: <T extends Closable>(r: T) => T; mark(what: string): void },
  result: PhaseResult,
): Promise<void> {
  const { proxy, upstream, mark } = parts;
  const sampler = startSampler(upstream, env.parts, env.sampleIntervalMs);
  let companion: PhaseCompanion | undefined;
  const statusCodes: Record<string, number> = {};
  try {
    companion = spec.alongside ? parts.own(spec.alongside(upstream)) : undefined;
    await companion?.ready;
    mark('load starts');
    const metrics = await env.parts.runLoad({
      ...phaseLoadOptions(spec, proxy.url),
      ...(env.signal ? { signal: env.signal } : {}),
      onResult: (r) => {
        const key = String(r.status);
        statusCodes[key] = (statusCodes[key] ?? 0) + 1;
      },
      onProgress: (p) =>
        env.onProgress?.({
          phase: name,
          elapsedMs: p.elapsedMs,
          durationMs: p.durationMs,
          sent: p.sent,
          statusCodes: { ...statusCodes },
        }),
    });
    result.client = clientView(metrics);
    result.gatewayErrors = (metrics.statusCodes['502'] ?? 0) + (metrics.statusCodes['504'] ?? 0);
    // Before anything stops: the upstream is still in the state the load left it in.
    result.doctor = await diagnose(name, spec, env, proxy, upstream);
  } finally {
    mark('load done');
    result.samples = await sampler.stop();
    if (companion) result.notes.push(...companion.notes());
  }
}

/**
 * Runs one phase: upstream → (prepare) → proxy → load at a fixed rate with the upstream sampled
 * → stop → the proxy's error log classified. Everything it started is closed before it returns,
 * also when it fails or is aborted; a failure is recorded in `error`, never thrown.
 */
export async function runPhase(name: PhaseName, spec: PhaseSpec, env: PhaseEnv): Promise<PhaseResult> {
  const started = performance.now();
  const mark = (what: string): void =>
    debug('lab: %s phase: %s at %d ms', name, what, Math.round(performance.now() - started));
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
  // Closed newest first when the phase ends; the run's closer knows them meanwhile (a second Ctrl-C).
  const closer = createCloser(`lab ${name} phase`);
  const own = <T extends Closable>(resource: T): T => {
    env.resources.add(resource);
    closer.add({ close: () => Promise.resolve(resource.close()).finally(() => env.resources.delete(resource)) });
    return resource;
  };
  let proxy: LabProxy | undefined;
  try {
    env.signal?.throwIfAborted();
    const socketPath = `${env.dir}/${spec.socketName ?? `${name}.sock`}`;
    const upstream = own(await startUpstream(spec.upstream, env.parts, env.dir, socketPath));
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
    await loadAndDiagnose(name, spec, env, { proxy, upstream, own, mark }, result);
    result.proxyLog = await readProxyLog(proxy, env);
    result.notes.push(...upstream.notes());
  } catch (err) {
    result.error = errorMessage(err);
    debug('lab: phase %s failed: %o', name, err);
    // What the proxy logged until then still tells the story (unless the log went with the proxy).
    if (proxy && result.proxyLog.lines === 0)
      result.proxyLog = await readProxyLog(proxy, env).catch(() => result.proxyLog);
  } finally {
    await closer.close();
    mark('closed');
    result.durationMs = Math.round(performance.now() - started);
  }
  return result;
}
