import { chmod, mkdir } from 'node:fs/promises';
import { BadgatewayError, ERROR_CODES, badOption } from '../errors/index.js';
import { createCloser, createTempDir, debug, type Closer } from '../util/index.js';
import { diagnosePhase } from './doctor.js';
import { loadParts, type LabParts } from './parts.js';
import { runPhase, type PhaseProgress } from './phase.js';
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
  /**
   * `auto` (default): nginx when installed, else the built-in proxy; `all`: every scenario behind
   * each proxy installed here (nginx, HAProxy, Caddy) and the built-in one, the missing ones skipped
   * with the reason.
   */
  proxy?: ProxyKind | 'auto' | 'all';
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
  | { type: 'start'; proxy: ProxyKind; proxies: ProxyKind[]; runs: number; skipped: SkippedScenario[] }
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
export function resolveLabOptions(options: LabOptions): Required<
  Pick<LabOptions, 'sampleIntervalMs' | 'maxLogLines'>
> & {
  scenarios: Scenario[];
  proxy: ProxyKind | 'auto' | 'all';
  upstream: UpstreamKind | undefined;
} {
  const scenarios = (options.scenarios?.length ? options.scenarios : SCENARIOS.map((s) => s.id)).map((id) => {
    const s = getScenario(id);
    if (!s) throw badOption('scenario', id, SCENARIOS.map((x) => x.id).join(', '));
    return s;
  });
  const proxy = options.proxy ?? LAB_DEFAULTS.proxy;
  if (proxy !== 'auto' && proxy !== 'all' && !PROXY_KINDS.includes(proxy))
    throw badOption('--proxy', proxy, `${PROXY_KINDS.join(', ')}, all or auto`);
  if (options.upstream !== undefined && !UPSTREAM_KINDS.includes(options.upstream)) {
    throw badOption('--app', options.upstream, UPSTREAM_KINDS.join(', '));
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
export function planRuns(
  scenarios: readonly Scenario[],
  upstream: UpstreamKind | undefined,
): { runs: LabRun[]; unsupported: SkippedScenario[] } {
  const runs: LabRun[] = [];
  const unsupported: SkippedScenario[] = [];
  for (const scenario of scenarios) {
    if (upstream === undefined) {
      for (const u of scenario.upstreams) runs.push({ scenario, upstream: u });
    } else if (scenario.upstreams.includes(upstream)) {
      runs.push({ scenario, upstream });
    } else {
      unsupported.push({
        id: scenario.id,
        kind: 'unsupported',
        proxy: null,
        upstream,
        reason: `${scenario.id} runs with ${scenario.upstreams.join(' or ')} upstreams only`,
      });
    }
  }
  return { runs, unsupported };
}

/**
 * Picks the proxy: nginx when installed for `auto`; `BG_NO_NGINX` when nginx is asked for and
 * missing, `BG_MISSING_TOOL` for HAProxy or Caddy.
 */
export function chooseProxy(
  kind: ProxyKind | 'auto',
  parts: Partial<Pick<LabParts, 'findNginx' | 'findHaproxy' | 'findCaddy'>> & Pick<LabParts, 'findNginx'>,
): ProxyKind {
  if (kind === 'auto') return parts.findNginx() ? 'nginx' : 'builtin';
  const reason = missingProxy(kind, parts);
  if (reason) {
    if (kind === 'nginx')
      throw new BadgatewayError(ERROR_CODES.NO_NGINX, reason, {
        hint: 'apt-get install nginx-light, or --proxy builtin',
      });
    throw new BadgatewayError(ERROR_CODES.MISSING_TOOL, reason, {
      hint: `apt-get install ${kind}, or --proxy builtin`,
    });
  }
  return kind;
}

/** Why `kind` cannot run here (not installed), or undefined. */
function missingProxy(
  kind: ProxyKind,
  parts: Partial<Pick<LabParts, 'findNginx' | 'findHaproxy' | 'findCaddy'>>,
): string | undefined {
  const find =
    kind === 'nginx'
      ? parts.findNginx
      : kind === 'haproxy'
        ? parts.findHaproxy
        : kind === 'caddy'
          ? parts.findCaddy
          : undefined;
  if (kind === 'builtin' || !find) return undefined;
  return find() ? undefined : `${kind} is not installed`;
}

/** The proxies of a selection: one for a kind or `auto`; for `all`, each one installed here (the others skipped with the reason). */
export function chooseProxies(
  kind: ProxyKind | 'auto' | 'all',
  parts: Pick<LabParts, 'findNginx' | 'findHaproxy' | 'findCaddy'>,
): { proxies: ProxyKind[]; missing: { proxy: ProxyKind; reason: string }[] } {
  if (kind !== 'all') return { proxies: [chooseProxy(kind, parts)], missing: [] };
  const missing: { proxy: ProxyKind; reason: string }[] = [];
  const proxies = PROXY_KINDS.filter((p) => {
    const reason = missingProxy(p, parts);
    if (reason) missing.push({ proxy: p, reason });
    return !reason;
  });
  return { proxies, missing };
}

/** One scenario with one upstream behind one proxy: the fail phase, the fix phase, the verdict. */
async function runScenario(
  run: LabRun,
  proxy: ProxyKind,
  ctx: {
    index: number;
    runs: number;
    dir: string;
    parts: LabParts;
    tracker: Closer;
    resolved: ReturnType<typeof resolveLabOptions>;
    options: LabOptions;
    emit: (event: LabEvent) => void;
  },
): Promise<ScenarioResult> {
  const { scenario, upstream } = run;
  const { options, emit } = ctx;
  const plan = scenario.plan(upstream);
  emit({ type: 'scenario', id: scenario.id, proxy, upstream, how: plan.how, index: ctx.index, runs: ctx.runs });
  const t0 = performance.now();
  const env = {
    parts: ctx.parts,
    proxyKind: proxy,
    causeId: scenario.causeId,
    dir: ctx.dir,
    sampleIntervalMs: ctx.resolved.sampleIntervalMs,
    maxLogLines: ctx.resolved.maxLogLines,
    resources: ctx.tracker,
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
  const failVerdict = judgeFailPhase(fail, scenario.causeId, proxy);
  const fixVerdict = judgeFixPhase(fix);
  return {
    id: scenario.id,
    title: scenario.title,
    causeId: scenario.causeId,
    proxy,
    upstream,
    how: plan.how,
    fix: plan.fix,
    phases: fix ? { fail, fix } : { fail },
    verdict: { ok: failVerdict.ok && fixVerdict.ok, fail: failVerdict, fix: fixVerdict },
    interrupted: options.signal?.aborted ?? false,
    durationMs: Math.round(performance.now() - t0),
  };
}

/**
 * Runs the selected scenarios, each a fail phase then a fix phase, behind one proxy (or each, with `all`), and returns the
 * report (plain JSON). Scenarios whose upstream cannot run here are skipped with the reason. Every
 * child process, socket and temp dir is gone when it resolves or rejects.
 */
export async function runLab(options: LabOptions = {}): Promise<LabReport> {
  const resolved = resolveLabOptions(options);
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const { runs: planned, unsupported } = planRuns(resolved.scenarios, resolved.upstream);
  if (planned.length === 0) {
    throw badOption(
      '--app',
      resolved.upstream,
      `an app the chosen scenarios have (${unsupported.map((s) => s.reason).join('; ')})`,
    );
  }
  const parts = options.parts ?? (await loadParts());
  const { proxies, missing } = chooseProxies(resolved.proxy, parts);
  const skipped: SkippedScenario[] = [...unsupported];
  const python = planned.some((r) => r.upstream !== 'node') ? await checkPythonServers() : undefined;
  const runs: { run: LabRun; proxy: ProxyKind }[] = [];
  for (const run of planned) {
    const reason = run.upstream === 'node' ? undefined : python?.[run.upstream as PythonServer];
    for (const proxy of proxies) {
      const notBehind = run.scenario.notBehind?.[proxy];
      if (notBehind)
        skipped.push({ id: run.scenario.id, kind: 'unsupported', proxy, upstream: run.upstream, reason: notBehind });
      else if (reason)
        skipped.push({ id: run.scenario.id, kind: 'unavailable', proxy, upstream: run.upstream, reason });
      else runs.push({ run, proxy });
    }
    for (const m of missing)
      skipped.push({
        id: run.scenario.id,
        kind: 'unavailable',
        proxy: m.proxy,
        upstream: run.upstream,
        reason: m.reason,
      });
  }
  const emit = options.onEvent ?? (() => undefined);
  emit({ type: 'start', proxy: proxies[0]!, proxies, runs: runs.length, skipped });

  const tracker = createCloser('lab');
  options.own?.({ close: () => tracker.close() });
  const dir = tracker.add(await createTempDir('lab'));
  // nginx started as root runs its workers as nobody: they must reach the sockets in here.
  await chmod(dir.path, 0o755);
  debug('lab: temp dir %s', dir.path);
  const scenarios: ScenarioResult[] = [];
  try {
    for (const [index, { run, proxy }] of runs.entries()) {
      if (options.signal?.aborted) break;
      const scenarioDir = `${dir.path}/${index}`;
      await mkdir(scenarioDir, { mode: 0o755 });
      await chmod(scenarioDir, 0o755);
      const result = await runScenario(run, proxy, {
        index,
        runs: runs.length,
        dir: scenarioDir,
        parts,
        tracker,
        resolved,
        options,
        emit,
      });
      scenarios.push(result);
      emit({ type: 'result', result });
    }
  } finally {
    await tracker.close();
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
