import { readdirSync, readlinkSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import {
  classifyFdTarget,
  readConnections,
  readFdLimits,
  readListenSockets,
  readNetstatCounters,
  readSocketStates,
  readSomaxconn,
  procError,
  parseSsUnix,
  resolveSocketReadOptions,
  type ConnectionStats,
  type FdKind,
  type FdStats,
  type ListenSocket,
  type TcpState,
} from '../proc/index.js';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import { runSs } from '../proc/index.js';
import { sleep } from '../util/index.js';
import { FdTargetCounter, quietInodes, summarizeHolders, type FdHolders } from './holders.js';
import { NO_PROXY_CONTEXT, type ProxyContext } from './proxy-context.js';
import { checkSocketAccess, readAccountDb, type SocketAccess, type WorkerIdentity } from '../proc/index.js';
import { probeKeepAlive, type KeepAliveProbe } from './probe.js';
import type { DoctorOptions } from './options.js';

/** A process doctor looked at. */
export interface ProcessFacts {
  pid: number;
  /** `/proc/PID/comm` (`node`, `gunicorn`, `nginx` …); null when unreadable. */
  command: string | null;
  fds: FdStats;
  /**
   * What holds the fds (sockets by state, file targets counted). Read for the processes the user
   * named, and in a machine scan for those at or above the fd warning ratio.
   */
  holders?: FdHolders;
}

/** What a second look at a process needs: its socket inodes and targets, and the first look's quiet sockets. */
interface HolderSample {
  process: ProcessFacts;
  socketInodes: Set<number>;
  targets: FdTargetCounter;
  quiet: Set<number>;
  atMs: number;
}

/** State shared by the collectors of one sample. */
interface CollectContext {
  /** Processes whose holders were read, by pid (read once even when several targets share one). */
  holders: Map<number, HolderSample>;
  /** The proxy's pools by address (`unix:/path`, `port:N`); null: the config names it without a pool. */
  pools: Map<string, ProxyPoolFacts | null>;
  proxy: ProxyContext;
}

/** Connections on a listener, summarised (the per-socket list stays out of the report). */
export interface ConnectionFacts {
  /** Non-listening sockets by state (only states with sockets). */
  states: Partial<Record<TcpState, number>>;
  total: number;
  /** ESTABLISHED sockets idle ≥ `idleMs`; null when unknown (unix sockets, no ss). */
  idle: number | null;
  idleMs: number;
  /** Longest idle time of an ESTABLISHED socket, ms. */
  maxIdleMs: number | null;
  /**
   * Unix sockets only (the kernel keeps no idle timers for them): accepted connections seen in two
   * samples `gapMs` apart with nothing queued either way (Recv-Q and Send-Q 0) both times. Absent
   * with one sample only (`--interval 0` outside watch mode) or without ss.
   */
  quiet?: UnixQuietFacts;
}

/** Accepted unix connections that stayed quiet between two samples (see {@link ConnectionFacts.quiet}). */
export interface UnixQuietFacts {
  /** Connected at both samples, Recv-Q 0 and Send-Q 0 at both. */
  count: number;
  /** Accepted connections at the second sample. */
  connected: number;
  /** Time between the two samples, ms. */
  gapMs: number;
}

/** Accepted connections of unix listeners at one moment: path → socket inode → nothing queued. */
export interface UnixSample {
  atMs: number;
  byPath: Map<string, Map<number, boolean>>;
}

/** One listening socket. */
export interface ListenerFacts {
  kind: 'tcp' | 'tcp6' | 'unix';
  /** `127.0.0.1:8080`, `[::]:8080`, `unix:/run/app.sock`. */
  name: string;
  port?: number;
  path?: string;
  /** Connections waiting for accept(). */
  queue: number | null;
  /** The accept queue's limit (listen() backlog capped by somaxconn). */
  backlog: number | null;
  pid?: number;
  connections?: ConnectionFacts;
  keepAlive?: KeepAliveProbe;
  /** The proxy's keep-alive pool for this address, from its config (the probe is compared with it). */
  proxyPool?: ProxyPoolFacts;
  /** The proxy config names this address and keeps no pool to it: no connection is reused, no race. */
  proxyUnpooled?: boolean;
  /** Whether the proxy's workers may connect() to this unix socket (one entry per worker identity). */
  proxyAccess?: ProxyAccessFacts[];
}

/** A keep-alive pool of the proxy towards a listener (nginx: keepalive N in the upstream block). */
export interface ProxyPoolFacts {
  /** The upstream group (or proxy_pass address). */
  upstream: string;
  keepalive: number;
  keepaliveTimeoutMs: number;
  /** Which config said so. */
  source: string;
}

/** A socket permission check for one proxy worker identity. */
export interface ProxyAccessFacts {
  identity: WorkerIdentity;
  access: SocketAccess;
}

/** One thing the user pointed doctor at (or one process of a machine scan). */
export interface TargetFacts {
  /** `pid 123 (node)`, `port 8080`, `unix:/run/app.sock`. */
  label: string;
  kind: 'pid' | 'port' | 'unix-socket';
  pid?: number;
  port?: number;
  unixSocket?: string;
  process?: ProcessFacts;
  listeners: ListenerFacts[];
  /** Why nothing was found listening, when nothing was. */
  missing?: 'no-listener' | 'no-socket-file' | 'stale-socket-file';
  /** Permission checks of a unix socket target that has no listener (a stale file may still deny). */
  proxyAccess?: ProxyAccessFacts[];
  /** Set when the target came from the proxy config: the upstream that names it. */
  fromConfig?: string;
  /**
   * Facts about this target doctor looked for and could not read (another user's process as a
   * non-root user): the report says so and never calls the target healthy.
   */
  unseen?: string[];
}

/** Machine-wide facts. */
export interface MachineFacts {
  /** net.core.somaxconn; null when unreadable. */
  somaxconn: number | null;
  /** TcpExt counters at two samples `intervalMs` apart (null when unreadable). */
  netstat: {
    intervalMs: number;
    listenOverflows: { before: number; after: number; delta: number };
    listenDrops: { before: number; after: number; delta: number };
  } | null;
}

/** Everything one sample collected. Plain JSON. */
export interface DoctorFacts {
  collectedAt: string;
  targets: TargetFacts[];
  machine: MachineFacts;
}

/** Listeners whose connections doctor reads in a machine scan (each costs an ss call). */
const MAX_SCANNED_LISTENERS = 64;

/** TcpExt counters as last read, for deltas across --watch samples. */
export interface NetstatSample {
  listenOverflows: number;
  listenDrops: number;
  atMs: number;
}

/**
 * Collects one sample of facts for the options' targets (or every listener when there are none and
 * `scanAll`). `previous` is the last sample's counters (watch mode): then the counter deltas are
 * against it and no extra wait happens; otherwise doctor reads them twice, `intervalMs` apart.
 * Throws `BG_NO_SUCH_PID` / `BG_PERMISSION` for a pid it cannot inspect.
 */
export async function collectFacts(
  options: DoctorOptions,
  previous?: NetstatSample,
  previousUnix?: UnixSample,
  proxy: ProxyContext = NO_PROXY_CONTEXT,
): Promise<{ facts: DoctorFacts; netstat: NetstatSample | undefined; unix: UnixSample | undefined }> {
  const before = previous ?? (await readNetstatSample());
  const ctx: CollectContext = { holders: new Map(), pools: poolsOf(proxy), proxy };
  const targets = await collectTargets(options, ctx);
  checkProxyAccess(targets, proxy);
  let somaxconn: number | null = null;
  try {
    somaxconn = await readSomaxconn();
  } catch {
    somaxconn = null;
  }
  // --interval 0 and no previous sample: one sample, no delta (a delta over a few ms would only
  // show other listeners' overflows by chance).
  // TcpExt counters say nothing about unix sockets: read them only when a TCP listener is inspected.
  const tcpInspected = targets.some((t) => t.kind === 'port' || t.listeners.some((l) => l.kind !== 'unix'));
  const wantCounters = tcpInspected && (previous !== undefined || options.intervalMs > 0);
  // Unix connections carry no idle timers: doctor looks at them twice, the interval apart (or, when
  // watching, compares with the previous sample) and counts the ones that stayed quiet.
  const unixListeners = targets
    .flatMap((t) => t.listeners)
    .filter((l) => l.kind === 'unix' && l.path !== undefined && (l.connections?.states.ESTABLISHED ?? 0) > 0);
  const wantUnix = unixListeners.length > 0 && (previousUnix !== undefined || options.intervalMs > 0);
  const firstUnix = wantUnix ? (previousUnix ?? (await readUnixSample())) : undefined;
  // A process near its fd limit gets a second look too: a socket quiet at both samples is idle,
  // not a request caught between its read and its answer.
  const wantHolders =
    options.intervalMs > 0 && [...ctx.holders.values()].some((h) => h.process.fds.ratio >= options.fdWarningRatio);
  if ((wantCounters || wantUnix || wantHolders) && options.intervalMs > 0) {
    const holderStarts = wantHolders ? [...ctx.holders.values()].map((h) => h.atMs) : [];
    const starts = [
      !previous && wantCounters ? before?.atMs : undefined,
      !previousUnix ? firstUnix?.atMs : undefined,
      ...holderStarts,
    ].filter((t) => t !== undefined);
    const waited = starts.length > 0 ? Date.now() - Math.max(...starts) : Infinity;
    if (waited < options.intervalMs) await sleep(options.intervalMs - waited, options.signal);
  }
  const after = wantCounters ? await readNetstatSample() : undefined;
  if (wantHolders) await rereadHolders(ctx);
  // Read even with nothing to compare with: the next sample of a watch compares with this one.
  const unix = unixListeners.length > 0 ? await readUnixSample() : undefined;
  if (firstUnix && unix) for (const l of unixListeners) setQuiet(l, firstUnix, unix);
  const netstat = before && after ? counterDeltas(before, after) : null;
  // The latest reading is what the next sample (watch mode) compares with.
  return {
    facts: { collectedAt: new Date().toISOString(), targets, machine: { somaxconn, netstat } },
    netstat: after ?? before,
    unix,
  };
}

/**
 * The targets of one sample: the ones named (pids, ports, unix sockets); with none, every listener
 * of the machine, or the upstreams the proxy config names when a log or a config was given.
 */
async function collectTargets(options: DoctorOptions, ctx: CollectContext): Promise<TargetFacts[]> {
  const { proxy } = ctx;
  const targets: TargetFacts[] = [];
  for (const pid of options.pids) targets.push(await collectPid(pid, options, ctx));
  for (const port of options.ports) targets.push(await collectPort(port, options, ctx));
  for (const path of options.unixSockets) targets.push(await collectUnixSocket(path, options, ctx));
  if (targets.length > 0) return targets;
  // Nothing named and nothing to read: the whole machine. A log or a config given: the upstreams
  // the proxy config names are what to inspect.
  const scan =
    options.scanAll &&
    options.errorLogs.length + options.accessLogs.length + options.nginxConfs.length + options.appLogs.length === 0;
  if (scan) return collectAll(options, ctx);
  for (const t of configTargets(proxy)) {
    try {
      targets.push(
        t.kind === 'port'
          ? await collectPort(t.port, options, ctx, t.upstream)
          : await collectUnixSocket(t.path, options, ctx, t.upstream),
      );
    } catch (err) {
      // An upstream of the config we may not look at: said, not fatal (the user named no target).
      proxy.unseen.push(
        `upstream ${t.upstream} (${t.kind === 'port' ? `port ${t.port}` : `unix:${t.path}`}): ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  return targets;
}

/** The TcpExt counters of two samples and how much each grew between them. */
function counterDeltas(before: NetstatSample, after: NetstatSample): MachineFacts['netstat'] {
  return {
    intervalMs: after.atMs - before.atMs,
    listenOverflows: {
      before: before.listenOverflows,
      after: after.listenOverflows,
      delta: after.listenOverflows - before.listenOverflows,
    },
    listenDrops: {
      before: before.listenDrops,
      after: after.listenDrops,
      delta: after.listenDrops - before.listenDrops,
    },
  };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::', '[::1]']);

/** A pool key: `unix:/path` or `port:N`. */
const addressKey = (l: { kind: string; path?: string; port?: number }): string =>
  l.kind === 'unix' ? `unix:${l.path}` : `port:${l.port}`;

/** Every keep-alive pool the proxy configs keep, by the address of its servers (local ones only). */
function poolsOf(proxy: ProxyContext): Map<string, ProxyPoolFacts | null> {
  const pools = new Map<string, ProxyPoolFacts | null>();
  for (const config of proxy.configs) {
    for (const u of config.upstreams) {
      const pooled = u.keepalive > 0 && u.poolEffective;
      for (const s of u.servers) {
        const key =
          s.unixPath !== undefined
            ? `unix:${s.unixPath}`
            : s.port !== undefined && LOOPBACK.has(s.host ?? '')
              ? `port:${s.port}`
              : undefined;
        if (!key) continue;
        // One config that pools connections to the address is enough for a race.
        if (pooled)
          pools.set(key, {
            upstream: u.name,
            keepalive: u.keepalive,
            keepaliveTimeoutMs: u.keepaliveTimeoutMs,
            source: config.source,
          });
        else if (!pools.get(key)) pools.set(key, null);
      }
    }
  }
  return pools;
}

/** The local upstream servers the proxy configs name (each once); remote ones are noted, not inspected. */
function configTargets(
  proxy: ProxyContext,
): ({ kind: 'port'; port: number; upstream: string } | { kind: 'unix'; path: string; upstream: string })[] {
  const out: ({ kind: 'port'; port: number; upstream: string } | { kind: 'unix'; path: string; upstream: string })[] =
    [];
  const seen = new Set<string>();
  for (const config of proxy.configs) {
    for (const u of config.upstreams) {
      for (const s of u.servers) {
        if (s.unixPath !== undefined) {
          if (!seen.has(`unix:${s.unixPath}`)) out.push({ kind: 'unix', path: s.unixPath, upstream: u.name });
          seen.add(`unix:${s.unixPath}`);
        } else if (s.port !== undefined && LOOPBACK.has(s.host ?? '')) {
          if (!seen.has(`port:${s.port}`)) out.push({ kind: 'port', port: s.port, upstream: u.name });
          seen.add(`port:${s.port}`);
        } else if (!seen.has(s.address)) {
          seen.add(s.address);
          proxy.unseen.push(`upstream ${u.name} server ${s.address} is not on this machine: not inspected`);
        }
      }
    }
  }
  return out;
}

/** Who may connect to each unix socket inspected: the proxy users that reach it (see ProxyAccessFacts). */
function checkProxyAccess(targets: TargetFacts[], proxy: ProxyContext): void {
  const identitiesFor = (path: string): WorkerIdentity[] => {
    if (proxy.proxyUser) return [proxy.proxyUser];
    return proxy.configs
      .filter(
        (c) =>
          c.workerIdentity &&
          c.upstreams.some((u) => u.servers.some((s) => s.unixPath !== undefined && samePathLoose(s.unixPath, path))),
      )
      .map((c) => c.workerIdentity!)
      .filter((w, i, all) => all.findIndex((x) => x.uid === w.uid && x.gid === w.gid) === i);
  };
  if (proxy.proxyUser === null && proxy.configs.length === 0) return;
  const db = readAccountDb();
  const check = (path: string): ProxyAccessFacts[] => {
    const out: ProxyAccessFacts[] = [];
    for (const identity of identitiesFor(path)) {
      try {
        out.push({ identity, access: checkSocketAccess(path, identity, db) });
      } catch {
        // No file: upstream-down says so.
      }
    }
    return out;
  };
  for (const t of targets) {
    for (const l of t.listeners) if (l.kind === 'unix' && l.path !== undefined) l.proxyAccess = check(l.path);
    if (
      t.kind === 'unix-socket' &&
      t.unixSocket !== undefined &&
      t.listeners.length === 0 &&
      t.missing === 'stale-socket-file'
    )
      t.proxyAccess = check(t.unixSocket);
  }
}

function samePathLoose(a: string, b: string): boolean {
  return a === b || resolvePath(a) === resolvePath(b);
}

/** One `ss -xan` read of every accepted unix stream connection; undefined without ss (no queues in /proc/net/unix). */
async function readUnixSample(): Promise<UnixSample | undefined> {
  try {
    const resolved = resolveSocketReadOptions({});
    if (resolved.source !== 'ss' || !resolved.ssPath) return undefined;
    const text = await runSs(resolved.ssPath, ['-xanH'], resolved.timeoutMs);
    const atMs = Date.now();
    const byPath = new Map<string, Map<number, boolean>>();
    for (const s of parseSsUnix(text)) {
      // An accepted connection carries the listener's path; the client's end has none.
      if (s.type !== 'stream' || s.state !== 'ESTAB' || s.path === null) continue;
      let sockets = byPath.get(s.path);
      if (!sockets) byPath.set(s.path, (sockets = new Map()));
      sockets.set(s.inode, s.recvQ === 0 && s.sendQ === 0);
    }
    return { atMs, byPath };
  } catch {
    return undefined;
  }
}

function setQuiet(listener: ListenerFacts, first: UnixSample, second: UnixSample): void {
  if (!listener.connections || listener.path === undefined) return;
  const before = first.byPath.get(listener.path) ?? new Map<number, boolean>();
  const now = second.byPath.get(listener.path) ?? new Map<number, boolean>();
  let count = 0;
  for (const [inode, quiet] of now) if (quiet && before.get(inode) === true) count += 1;
  listener.connections.quiet = { count, connected: now.size, gapMs: second.atMs - first.atMs };
}

async function readNetstatSample(): Promise<NetstatSample | undefined> {
  try {
    const c = await readNetstatCounters();
    return { listenOverflows: c.listenOverflows, listenDrops: c.listenDrops, atMs: Date.now() };
  } catch {
    return undefined;
  }
}

async function readCommand(pid: number): Promise<string | null> {
  try {
    return (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
  } catch {
    return null;
  }
}

/** The process's fds; what holds them too when `withHolders` (or when it is near its limit). */
async function collectProcess(
  pid: number,
  ctx: CollectContext,
  options: DoctorOptions,
  withHolders = true,
): Promise<ProcessFacts> {
  const read = await readProcessFds(pid);
  if (withHolders || read.process.fds.ratio >= options.fdWarningRatio) await readHolders(read, ctx);
  return read.process;
}

/**
 * One pass over `/proc/PID/fd`: the fd stats of src/proc's readFdStats (same shape, same
 * classification) and the socket inodes the process holds, which tell its listeners apart without
 * `ss -p` (that readlinks every fd of every process: ~1 s next to a 20,000-fd process).
 * Synchronous readlinks on purpose: ~10 µs each against ~20 µs through the thread pool, so 20,000
 * fds take ~0.2 s; fds closing meanwhile are skipped.
 */
async function readProcessFds(
  pid: number,
): Promise<{ process: ProcessFacts; socketInodes: Set<number>; targets: FdTargetCounter }> {
  const dir = `/proc/${pid}/fd`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw procError(pid, err, 'fds');
  }
  const limits = await readFdLimits(pid);
  const byKind: Record<FdKind, number> = { socket: 0, pipe: 0, file: 0, anon_inode: 0, device: 0, other: 0 };
  const socketInodes = new Set<number>();
  const targets = new FdTargetCounter();
  let open = 0;
  for (const name of names) {
    let target: string;
    try {
      target = readlinkSync(`${dir}/${name}`);
    } catch {
      continue;
    }
    const kind = classifyFdTarget(target);
    byKind[kind] += 1;
    open += 1;
    if (kind === 'socket') socketInodes.add(Number(target.slice(8, -1)));
    else targets.add(kind, target);
  }
  const fds: FdStats = { pid, open, ...limits, ratio: limits.soft ? open / limits.soft : 0, byKind };
  return { process: { pid, command: await readCommand(pid), fds }, socketInodes, targets };
}

/** Reads what holds the fds of a process once per sample (several targets may name it). */
async function readHolders(
  read: { process: ProcessFacts; socketInodes: Set<number>; targets: FdTargetCounter },
  ctx: CollectContext,
): Promise<void> {
  const known = ctx.holders.get(read.process.pid);
  if (known) {
    if (known.process.holders) read.process.holders = known.process.holders;
    return;
  }
  const states = await readSocketStates(read.process.pid, read.socketInodes);
  read.process.holders = summarizeHolders(read.socketInodes, states, read.targets);
  ctx.holders.set(read.process.pid, { ...read, quiet: quietInodes(states), atMs: Date.now() });
}

/** Second look after the interval: quiet now means quiet at both samples. */
async function rereadHolders(ctx: CollectContext): Promise<void> {
  for (const sample of ctx.holders.values()) {
    try {
      const states = await readSocketStates(sample.process.pid, sample.socketInodes);
      sample.process.holders = summarizeHolders(sample.socketInodes, states, sample.targets, {
        quiet: sample.quiet,
        gapMs: Date.now() - sample.atMs,
      });
    } catch {
      // Gone meanwhile: the first look stands.
    }
  }
}

function toListener(s: ListenSocket, pid?: number): ListenerFacts {
  const name =
    s.kind === 'unix'
      ? `unix:${s.path ?? s.address}`
      : `${s.address.includes(':') ? `[${s.address}]` : s.address}:${s.port ?? '*'}`;
  const listener: ListenerFacts = { kind: s.kind, name, queue: s.queue, backlog: s.backlog };
  if (s.port !== undefined) listener.port = s.port;
  if (s.path !== undefined) listener.path = s.path;
  const owner = pid ?? s.pid;
  if (owner !== undefined) listener.pid = owner;
  return listener;
}

/** Connections and (when a proxy idle timeout is known) a keep-alive probe for each listener. */
async function enrichListeners(listeners: ListenerFacts[], options: DoctorOptions, ctx: CollectContext): Promise<void> {
  // A port listened on twice (0.0.0.0 and ::) has one set of connections: read it once.
  const seen = new Map<string, ConnectionFacts | undefined>();
  for (const listener of listeners) {
    const key = listener.kind === 'unix' ? `unix:${listener.path}` : `port:${listener.port}`;
    if (!seen.has(key)) {
      let facts: ConnectionFacts | undefined;
      try {
        const stats = await readConnections(
          listener.kind === 'unix' ? { unixSocket: listener.path ?? '' } : { port: listener.port ?? 0 },
          { idleMs: options.idleMs },
        );
        facts = summarizeConnections(stats, options.idleMs);
      } catch {
        facts = undefined;
      }
      seen.set(key, facts);
    }
    const facts = seen.get(key);
    if (facts) listener.connections = facts;
    const pool = ctx.pools.get(addressKey(listener));
    if (pool) listener.proxyPool = pool;
    // A proxy config that names this address without a pool never reuses a connection: no probe.
    if (pool === null) listener.proxyUnpooled = true;
    else if (options.proxyIdleTimeoutMs > 0 || pool) {
      listener.keepAlive = await probeKeepAlive(
        listener.kind === 'unix'
          ? { unixSocket: listener.path ?? '' }
          : { host: probeHost(listener), port: listener.port ?? 0 },
        { timeoutMs: options.probeTimeoutMs, ...(options.signal ? { signal: options.signal } : {}) },
      );
    }
  }
}

function probeHost(listener: ListenerFacts): string {
  const address = listener.name.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  if (address === '0.0.0.0' || address === '*' || address === '::') return '127.0.0.1';
  return address;
}

function summarizeConnections(stats: ConnectionStats, idleMs: number): ConnectionFacts {
  const states: Partial<Record<TcpState, number>> = {};
  for (const [state, n] of Object.entries(stats.states) as [TcpState, number][]) if (n > 0) states[state] = n;
  return { states, total: stats.total, idle: stats.idle.count, idleMs, maxIdleMs: stats.idle.maxMs };
}

async function collectPid(pid: number, options: DoctorOptions, ctx: CollectContext): Promise<TargetFacts> {
  const read = await readProcessFds(pid);
  const { process, socketInodes } = read;
  await readHolders(read, ctx);
  const listeners = (await readListenSockets({}, { owners: false }))
    .filter((s) => socketInodes.has(s.inode))
    .map((s) => toListener(s, pid));
  await enrichListeners(listeners, options, ctx);
  return { label: `pid ${pid}${process.command ? ` (${process.command})` : ''}`, kind: 'pid', pid, process, listeners };
}

/** Why a process doctor needs could not be read, for the report's `not seen:` lines. */
const NOT_ROOT = "doctor runs as a user that may not read it: run it as root or as the process's user";

/**
 * The process that owns the listeners, read (fds, what holds them). When it cannot be read —
 * another user's process, or `ss` showing no owner to a non-root user — the socket facts still
 * stand and the target says what was not seen.
 */
async function ownerProcess(
  target: TargetFacts,
  options: DoctorOptions,
  ctx: CollectContext,
): Promise<ProcessFacts | undefined> {
  const pid = target.listeners.find((l) => l.pid !== undefined)?.pid;
  if (pid === undefined) {
    if (process.getuid?.() !== 0)
      (target.unseen ??= []).push(
        `${target.label}: the process that listens (ss shows other users' processes only to root; ${NOT_ROOT}, or give --pid)`,
      );
    return undefined;
  }
  try {
    return await collectProcess(pid, ctx, options);
  } catch (err) {
    const why =
      errnoCode((err as { cause?: unknown }).cause) === 'ENOENT'
        ? 'it exited while doctor read it'
        : `permission denied (${NOT_ROOT})`;
    (target.unseen ??= []).push(`${target.label}: the fds of pid ${pid}, its owner: ${why}`);
    return undefined;
  }
}

async function collectPort(
  port: number,
  options: DoctorOptions,
  ctx: CollectContext,
  fromConfig?: string,
): Promise<TargetFacts> {
  const listeners = (await readListenSockets({ port })).map((s) => toListener(s));
  const target: TargetFacts = {
    label: `port ${port}`,
    kind: 'port',
    port,
    listeners,
    ...(fromConfig ? { fromConfig } : {}),
  };
  if (listeners.length === 0) {
    target.missing = 'no-listener';
    return target;
  }
  const owner = await ownerProcess(target, options, ctx);
  if (owner) {
    target.process = owner;
    target.pid = owner.pid;
  }
  await enrichListeners(listeners, options, ctx);
  return target;
}

async function collectUnixSocket(
  path: string,
  options: DoctorOptions,
  ctx: CollectContext,
  fromConfig?: string,
): Promise<TargetFacts> {
  const target: TargetFacts = {
    label: `unix:${path}`,
    kind: 'unix-socket',
    unixSocket: path,
    listeners: [],
    ...(fromConfig ? { fromConfig } : {}),
  };
  let isSocket: boolean;
  try {
    isSocket = (await stat(path)).isSocket();
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') {
      target.missing = 'no-socket-file';
      return target;
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new BadgatewayError(ERROR_CODES.PERMISSION, `cannot inspect ${path}: permission denied`, { cause: err });
    }
    throw new BadgatewayError(ERROR_CODES.UNREADABLE, `cannot inspect ${path}: ${code ?? String(err)}`, { cause: err });
  }
  // A file or a directory is no stale socket: nothing was ever listening there, the path is wrong.
  if (!isSocket) throw new BadgatewayError(ERROR_CODES.NO_SUCH_SOCKET, `--unix-socket: ${path} is not a socket`);
  target.listeners = (await readListenSockets({ unixSocket: path })).map((s) => toListener(s));
  if (target.listeners.length === 0) {
    target.missing = 'stale-socket-file';
    return target;
  }
  const owner = await ownerProcess(target, options, ctx);
  if (owner) {
    target.process = owner;
    target.pid = owner.pid;
  }
  await enrichListeners(target.listeners, options, ctx);
  return target;
}

/** Every listening socket of the machine, grouped by owning process. */
async function collectAll(options: DoctorOptions, ctx: CollectContext): Promise<TargetFacts[]> {
  const sockets = await readListenSockets();
  const byPid = new Map<number, ListenerFacts[]>();
  const orphans: ListenerFacts[] = [];
  for (const s of sockets) {
    const listener = toListener(s);
    if (listener.pid === undefined) orphans.push(listener);
    else byPid.set(listener.pid, [...(byPid.get(listener.pid) ?? []), listener]);
  }
  const targets: TargetFacts[] = [];
  let budget = MAX_SCANNED_LISTENERS;
  for (const [pid, listeners] of [...byPid.entries()].sort(([a], [b]) => a - b)) {
    let process: ProcessFacts | undefined;
    let unseen: string | undefined;
    try {
      process = await collectProcess(pid, ctx, options, false);
    } catch (err) {
      process = undefined;
      if (errnoCode((err as { cause?: unknown }).cause) !== 'ENOENT')
        unseen = `pid ${pid}: its fds (permission denied: ${NOT_ROOT})`;
    }
    if (budget > 0) await enrichListeners(listeners.slice(0, budget), options, ctx);
    budget -= listeners.length;
    const target: TargetFacts = {
      label: `pid ${pid}${process?.command ? ` (${process.command})` : ''}`,
      kind: 'pid',
      pid,
      listeners,
    };
    if (process) target.process = process;
    if (unseen) target.unseen = [unseen];
    targets.push(target);
  }
  const root = process.getuid?.() === 0;
  for (const listener of orphans) {
    targets.push({
      label: listener.name,
      kind: listener.kind === 'unix' ? 'unix-socket' : 'port',
      ...(listener.port !== undefined ? { port: listener.port } : {}),
      ...(listener.path !== undefined ? { unixSocket: listener.path } : {}),
      listeners: [listener],
      ...(root
        ? {}
        : {
            unseen: [
              `${listener.name}: the process that listens (ss shows other users' processes only to root; ${NOT_ROOT})`,
            ],
          }),
    });
  }
  return targets;
}
