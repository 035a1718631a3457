import { chmod, mkdir } from 'node:fs/promises';
import { BadgatewayError, ERROR_CODES, badOption } from '../errors/index.js';
import { createTempDir, debug } from '../util/index.js';
import { diagnosePhase } from './doctor.js';
import { loadParts, type LabParts } from './parts.js';
import { runPhase, type PhaseProgress, type ResourceTracker } from './phase.js';
import { checkPythonServers, type PythonServer } from './python-apps.js';
import { SCENARIOS, getScenario } from './scenarios.js';
import type { Scenario } from './scenario.js';
import { judgeFailPhase, judgeFixPhase } from './verdict.js';
import {
  PROXY_KINDS,
  UPSTREAM_KINDS,
  type LabReport,
  type PhaseName,
  type ProxyKind,
  type ScenarioResult,
  type SkippedScenario,
  type UpstreamKind,
} from './types.js';

/** Options of {@link runLab}. */
export interface LabOptions {
  /** Scenario ids; default every scenario. */
  scenarios?: readonly string[];
  /** `auto` (default): nginx when installed, else the built-in proxy. */
  proxy?: ProxyKind | 'auto';
  /** Run each scenario with this upstream only; default every upstream kind each scenario has. */
  upstream?: UpstreamKind;
  /** Stops the run after the current phase's load (which stops at once); the report says interrupted. */
  signal?: AbortSignal;
  /** Live events (progress on a terminal). */
  onEvent?: (event: LabEvent) => void;
  /** Upstream sampling period, ms. Default 150. */
  sampleIntervalMs?: number;
  /** Classified proxy lines kept per phase in the report. Default 50. */
  maxLogLines?: number;
  /** Registers a closer for everything the run has open (for a second Ctrl-C). */
  own?: (resource: { close(): Promise<void> }) => void;
  /** The parts the lab drives; default the real ones. */
  parts?: LabParts;
  /** Run `badgateway doctor` on the upstream and the proxy log at the end of each phase's load. Default true. */
  doctor?: boolean;
}

/** What `runLab` reports while it runs. */
export type LabEvent =
  | { type: 'start'; proxy: ProxyKind; runs: number; skipped: SkippedScenario[] }
  | { type: 'scenario'; id: string; proxy: ProxyKind; upstream: UpstreamKind; how: string; index: number; runs: number }
  | { type: 'phase'; id: string; phase: PhaseName }
  | ({ type: 'progress'; id: string } & PhaseProgress)
  | { type: 'result'; result: ScenarioResult };

/** Defaults of {@link runLab}. */
export const LAB_DEFAULTS = { proxy: 'auto', sampleIntervalMs: 150, maxLogLines: 50 } as const;

/** A scenario to run with one upstream kind. */
export interface LabRun {
  scenario: Scenario;
  upstream: UpstreamKind;
}

/** Checks ids and kinds; throws `BG_BAD_OPTION` naming the bad one. */
export function resolveLabOptions(options: LabOptions): Required<Pick<LabOptions, 'sampleIntervalMs' | 'maxLogLines'>> & {
  scenarios: Scenario[];
  proxy: ProxyKind | 'auto';
  upstream: UpstreamKind | undefined;
} {
  const scenarios = (options.scenarios?.length ? options.scenarios : SCENARIOS.map((s) => s.id)).map((id) => {
    const s = getScenario(id);
    if (!s) throw badOption('scenario', id, SCENARIOS.map((x) => x.id).join(', '));
    return s;
  });
  const proxy = options.proxy ?? LAB_DEFAULTS.proxy;
  if (proxy !== 'auto' && !PROXY_KINDS.includes(proxy)) throw badOption('--proxy', proxy, 'nginx, builtin or auto');
  if (options.upstream !== undefined && !UPSTREAM_KINDS.includes(options.upstream)) {
    throw badOption('--upstream', options.upstream, UPSTREAM_KINDS.join(', '));
  }
  return {
    scenarios: [...new Set(scenarios)],
    proxy,
    upstream: options.upstream,
    sampleIntervalMs: options.sampleIntervalMs ?? LAB_DEFAULTS.sampleIntervalMs,
    maxLogLines: options.maxLogLines ?? LAB_DEFAULTS.maxLogLines,
  };
}

/** The (scenario, upstream) pairs a selection means, and the ones it cannot mean. */
export function planRuns(scenarios: readonly Scenario[], upstream: UpstreamKind | undefined): { runs: LabRun[]; unsupported: SkippedScenario[] } {
  const runs: LabRun[] = [];
  const unsupported: SkippedScenario[] = [];
  for (const scenario of scenarios) {
    if (upstream === undefined) {
      for (const u of scenario.upstreams) runs.push({ scenario, upstream: u });
    } else if (scenario.upstreams.includes(upstream)) {
      runs.push({ scenario, upstream });
    } else {
      unsupported.push({ id: scenario.id, kind: 'unsupported', proxy: null, upstream, reason: `${scenario.id} runs with ${scenario.upstreams.join(' or ')} upstreams only` });
    }
  }
  return { runs, unsupported };
}

/** Picks the proxy: nginx when installed for `auto`; `BG_NO_NGINX` when nginx is asked for and missing. */
export function chooseProxy(kind: ProxyKind | 'auto', parts: Pick<LabParts, 'findNginx'>): ProxyKind {
  const nginx = parts.findNginx();
  if (kind === 'auto') return nginx ? 'nginx' : 'builtin';
  if (kind === 'nginx' && !nginx) {
    throw new BadgatewayError(ERROR_CODES.NO_NGINX, 'nginx is not installed', { hint: 'apt-get install nginx-light, or --proxy builtin' });
  }
  return kind;
}

function createTracker(): ResourceTracker & { closeAll(): Promise<void> } {
  const open = new Set<{ close(): Promise<void> }>();
  return {
    track(resource) {
      open.add(resource);
      return () => open.delete(resource);
    },
    async closeAll() {
      for (const r of [...open].reverse()) {
        open.delete(r);
        await r.close().catch(() => undefined);
      }
    },
  };
}

/**
 * Runs the selected scenarios, each a fail phase then a fix phase, behind one proxy, and returns the
 * report (plain JSON). Scenarios whose upstream cannot run here are skipped with the reason. Every
 * child process, socket and temp dir is gone when it resolves or rejects.
 */
export async function runLab(options: LabOptions = {}): Promise<LabReport> {
  const resolved = resolveLabOptions(options);
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const { runs: planned, unsupported } = planRuns(resolved.scenarios, resolved.upstream);
  if (planned.length === 0) {
    throw badOption('--upstream', resolved.upstream, `an upstream the chosen scenarios have (${unsupported.map((s) => s.reason).join('; ')})`);
  }
  const parts = options.parts ?? (await loadParts());
  const proxy = chooseProxy(resolved.proxy, parts);
  const skipped: SkippedScenario[] = [...unsupported];
  const python = planned.some((r) => r.upstream !== 'node') ? await checkPythonServers() : undefined;
  const runs = planned.filter((r) => {
    const reason = r.upstream === 'node' ? undefined : python?.[r.upstream as PythonServer];
    if (reason) skipped.push({ id: r.scenario.id, kind: 'unavailable', proxy, upstream: r.upstream, reason });
    return !reason;
  });
  const emit = options.onEvent ?? (() => undefined);
  emit({ type: 'start', proxy, runs: runs.length, skipped });

  const tracker = createTracker();
  options.own?.({ close: () => tracker.closeAll() });
  const dir = await createTempDir('lab');
  tracker.track(dir);
  // nginx started as root runs its workers as nobody: they must reach the sockets in here.
  await chmod(dir.path, 0o755);
  debug('lab: temp dir %s', dir.path);
  const scenarios: ScenarioResult[] = [];
  try {
    for (const [index, run] of runs.entries()) {
      if (options.signal?.aborted) break;
      const { scenario, upstream } = run;
      const plan = scenario.plan(upstream);
      emit({ type: 'scenario', id: scenario.id, proxy, upstream, how: plan.how, index, runs: runs.length });
      const scenarioDir = `${dir.path}/${index}`;
      await mkdir(scenarioDir, { mode: 0o755 });
      await chmod(scenarioDir, 0o755);
      const t0 = performance.now();
      const env = {
        parts,
        proxyKind: proxy,
        causeId: scenario.causeId,
        dir: scenarioDir,
        sampleIntervalMs: resolved.sampleIntervalMs,
        maxLogLines: resolved.maxLogLines,
        resources: tracker,
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: (p: PhaseProgress) => emit({ type: 'progress', id: scenario.id, ...p }),
        ...(options.doctor === false ? {} : { doctor: diagnosePhase }),
      };
      emit({ type: 'phase', id: scenario.id, phase: 'fail' });
      const fail = await runPhase('fail', plan.phases.fail, env);
      let fix;
      if (!options.signal?.aborted) {
        emit({ type: 'phase', id: scenario.id, phase: 'fix' });
        fix = await runPhase('fix', plan.phases.fix, env);
      }
      const failVerdict = judgeFailPhase(fail, scenario.causeId);
      const fixVerdict = judgeFixPhase(fix);
      const result: ScenarioResult = {
        id: scenario.id,
        title: scenario.title,
        causeId: scenario.causeId,
        proxy,
        upstream,
        how: plan.how,
        fix: plan.fix,
        phases: fix ? { fail, fix } : { fail },
        verdict: { ok: failVerdict.ok && fixVerdict.ok, fail: failVerdict, fix: fixVerdict },
        durationMs: Math.round(performance.now() - t0),
      };
      scenarios.push(result);
      emit({ type: 'result', result });
    }
  } finally {
    await tracker.closeAll();
  }
  const interrupted = options.signal?.aborted ?? false;
  return {
    tool: 'badgateway lab',
    version: 1,
    startedAt,
    durationMs: Math.round(performance.now() - started),
    ok: !interrupted && scenarios.length > 0 && scenarios.every((s) => s.verdict.ok),
    interrupted,
    scenarios,
    skipped,
  };
}
