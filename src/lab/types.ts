import type { CauseId, FastClassification } from '../causes/index.js';
import type { LoadMetrics } from '../load/index.js';
import type { ProxyKind } from '../proxy/index.js';

/** The proxies a scenario runs behind. */
export { PROXY_KINDS, type ProxyKind } from '../proxy/index.js';

/** The app servers a scenario can use as its upstream. */
export type UpstreamKind = 'node' | 'gunicorn' | 'uvicorn' | 'gevent';

export const UPSTREAM_KINDS: readonly UpstreamKind[] = ['node', 'gunicorn', 'uvicorn', 'gevent'];

export type PhaseName = 'fail' | 'fix';

/** One sample of the upstream, taken every `sampleIntervalMs` while load runs. */
export interface UpstreamSample {
  /** Since the phase's load started. */
  tMs: number;
  /** Open fds of the upstream process (null: could not read, e.g. it exited). */
  fds: number | null;
  /** Soft RLIMIT_NOFILE of the upstream process. */
  fdLimit: number | null;
  /** Connections waiting in the listen socket's accept queue (ss Recv-Q). */
  listenQueue: number | null;
  /** The listen socket's backlog (ss Send-Q). */
  listenBacklog: number | null;
  /** Requests the upstream is working on, when it says so. */
  inflight: number | null;
}

/** One classified line of the proxy's error log. */
export interface ClassifiedLine {
  /** The line as the proxy wrote it. */
  line: string;
  patternId: string;
  causes: readonly CauseId[];
  /** What the client got for this line, per the catalogue or the line itself (null: response already started). */
  status: FastClassification['status'];
  level: string;
  /** The line is evidence of the scenario's cause. */
  matchesCause: boolean;
}

/** What the client (the load generator) saw in one phase: the load metrics the report shows. */
export type ClientView = Pick<
  LoadMetrics,
  'requests' | 'rate' | 'durationMs' | 'latenciesMs' | 'statusCodes' | 'errors' | 'bucketMs' | 'timeline'
>;

/** Everything one phase (fail or fix) measured. Plain JSON. */
export interface PhaseResult {
  name: PhaseName;
  /** What this phase sets up, in one sentence. */
  description: string;
  durationMs: number;
  client: ClientView;
  /** 502 + 504 the client got. */
  gatewayErrors: number;
  samples: UpstreamSample[];
  proxyLog: {
    /** Lines in the error log. */
    lines: number;
    /** Classified lines (upstream errors), capped at `maxLogLines`; counts below are over all. */
    classified: ClassifiedLine[];
    /** Classified lines per pattern id. */
    byPattern: Record<string, number>;
    /** Lines that are evidence of the scenario's cause. */
    causeLines: number;
  };
  /** Facts the scenario measured itself (race hit rate, idle clients opened…). */
  notes: string[];
  /**
   * What `badgateway doctor` concluded, run on the upstream and the proxy's error log at the end of
   * the load (while the cause is still there). Null when it was not run or could not inspect.
   */
  doctor: {
    causes: CauseId[];
    findings: { cause: CauseId; severity: string; summary: string }[];
    error?: string;
  } | null;
  /** Pids of the child processes this phase started (for cleanup checks). */
  childPids: number[];
  /** The upstream the phase ran: its pid (when one process serves) and its port or socket. */
  upstream?: { pid: number | null; port?: number; unixSocket?: string };
  /** Set when the phase could not run to the end. */
  error?: string;
}

export interface PhaseVerdict {
  ok: boolean;
  /** One line: why it holds or not. */
  reason: string;
}

/** One scenario run behind one proxy with one upstream kind. */
export interface ScenarioResult {
  id: string;
  title: string;
  causeId: CauseId;
  proxy: ProxyKind;
  upstream: UpstreamKind;
  /** How the lab provokes the cause, in plain words (said in the output, never hidden). */
  how: string;
  /** The fix the lab applies in the fix phase. */
  fix: string;
  phases: { fail: PhaseResult; fix?: PhaseResult };
  verdict: { ok: boolean; fail: PhaseVerdict; fix: PhaseVerdict };
  /** Stopped by the run's signal (Ctrl-C) before its phases ended: no verdict, not a failure. */
  interrupted: boolean;
  durationMs: number;
}

/** A scenario × upstream that could not run here, and why. */
export interface SkippedScenario {
  id: string;
  /** `unsupported`: the scenario has no such upstream; `unavailable`: it cannot run on this machine. */
  kind: 'unsupported' | 'unavailable';
  proxy: ProxyKind | null;
  upstream: UpstreamKind;
  reason: string;
}

/** The whole lab run: what `--json` prints and what the HTML report renders. */
export interface LabReport {
  tool: 'badgateway lab';
  version: 1;
  startedAt: string;
  durationMs: number;
  /** Every verdict holds (and at least one scenario ran). */
  ok: boolean;
  interrupted: boolean;
  scenarios: ScenarioResult[];
  skipped: SkippedScenario[];
}
