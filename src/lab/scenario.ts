import type { CauseId } from '../causes/index.js';
import type { NodeAppOptions } from './node-apps.js';
import type { PythonAppOptions } from './python-apps.js';
import type { LabDemoAppOptions } from './parts.js';
import type { PhaseName, ProxyKind, UpstreamKind } from './types.js';

/** How a phase's upstream is started. */
export type UpstreamSpec =
  /** The demo app (`badgateway app`) as a child process, on TCP 127.0.0.1:0 or a unix socket. */
  | { kind: 'demo'; transport: 'tcp' | 'unix'; app: Omit<LabDemoAppOptions, 'port' | 'host' | 'unixSocket'> }
  /** The lab's keep-alive race server, in process. */
  | { kind: 'race'; keepAliveTimeoutMs: number }
  /** A seed's Python app under Debian's server. */
  | { kind: 'python'; app: Omit<PythonAppOptions, 'dir' | 'unixSocket'> }
  /** A small Node app with one bug (a CLOSE_WAIT leak, a worker that dies mid-request), as a child process on TCP. */
  | { kind: 'node-app'; app: NodeAppOptions };

/** The proxy settings of a phase (the rest are the proxy part's defaults). */
export interface PhaseProxySpec {
  /** Idle upstream connections kept for reuse; 0 = a new connection per request. */
  keepalive: number;
  connectTimeoutMs: number;
  readTimeoutMs: number;
}

/** The load of a phase: a fixed rate, open loop, through the proxy. */
export interface PhaseLoadSpec {
  /** Request path; with several, the load sends them round-robin. */
  path: string | readonly string[];
  method?: 'GET' | 'POST';
  body?: string;
  /** Requests per second. */
  rate: number;
  durationMs: number;
  /**
   * Clients keep their connection to the proxy between requests (default true); false = a new
   * client connection per request.
   */
  clientKeepAlive?: boolean;
}

/** The upstream of a running phase, as hooks see it. */
export interface RunningUpstream {
  /** `http://127.0.0.1:PORT` or `unix:/path` */
  readonly url: string;
  readonly pid: number | null;
  /** Kills the upstream with SIGKILL (a crash: a unix socket file stays behind). */
  crash(): Promise<void>;
}

/** Something a phase runs alongside its load (idle clients); closed when the load ends. */
export interface PhaseCompanion {
  /** The load starts once this resolves (e.g. the first idle clients are connected). */
  ready?: Promise<void>;
  close(): Promise<void>;
  /** Facts to report, read after the load. */
  notes(): string[];
}

/** One phase of a scenario: what runs, and how hard it is driven. */
export interface PhaseSpec {
  /** One sentence: what this phase sets up. */
  description: string;
  upstream: UpstreamSpec;
  proxy: PhaseProxySpec;
  load: PhaseLoadSpec;
  /** Name of the upstream's unix socket in the scenario's dir. Default `<phase>.sock`. */
  socketName?: string;
  /** Runs after the upstream is up and before the proxy starts (e.g. leak fds, crash it). */
  prepare?(upstream: RunningUpstream): Promise<string[] | void>;
  /** Started with the load, closed after it. */
  alongside?(upstream: RunningUpstream): PhaseCompanion;
}

/** A scenario's plan for one upstream kind. */
export interface ScenarioPlan {
  /** How the lab provokes the cause, said in the output. */
  how: string;
  /** The fix the fix phase applies. */
  fix: string;
  phases: Record<PhaseName, PhaseSpec>;
}

/** A lab scenario: one cause, reproduced (fail phase) and fixed (fix phase). */
export interface Scenario {
  id: string;
  title: string;
  causeId: CauseId;
  /** Upstream kinds it runs with; the first is the default. */
  upstreams: readonly UpstreamKind[];
  /** The seed incident a (scenario, upstream) pair reproduces. */
  seeds?: Partial<Record<UpstreamKind, string>>;
  /** Proxies behind which the cause cannot show, each with the measured reason (the run is skipped, the reason printed). */
  notBehind?: Partial<Record<ProxyKind, string>>;
  plan(upstream: UpstreamKind): ScenarioPlan;
}
