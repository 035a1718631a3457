import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { CAUSES } from '../../src/causes/index.js';
import { renderMetricsMarkdown } from '../../src/metrics/index.js';
import {
  MIXIN_DEFAULTS,
  MIXIN_FILES,
  alertCoverage,
  createAlertDefinitions,
  createDashboard,
  createRecordingRules,
  dashboardExpressions,
  renderAlertsMarkdown,
  renderMixinFiles,
  renderRunbooksMarkdown,
  resolveMixinConfig,
  type Panel,
} from '../../src/mixin/index.js';
import { createTempDir, which } from '../../src/util/index.js';
import { runCli, runCommand } from '../../src/testing/index.js';
import { doctorExposition, guardExposition } from '../helpers/exporters.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MIXIN_DIR = join(ROOT, 'mixin');
const UNIT_TESTS = join(ROOT, 'test/mixin/alerts.test.yaml');
const PROMTOOL = which('promtool');
const NO_PROMTOOL = 'promtool not installed (apt-get install prometheus)';

async function promtool(args: string[]): Promise<{ code: number | null; out: string }> {
  const r = await runCommand(PROMTOOL!, args, { timeoutMs: 60_000 });
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

test('the committed mixin/ is exactly what `badgateway mixin --out` writes with the defaults', {
  timeout: 20_000,
}, async () => {
  await using dir = await createTempDir('bg-mixin-');
  const r = await runCli(['mixin', '--out', dir.path]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    r.stdout.trim().split('\n'),
    Object.values(MIXIN_FILES).map((p) => `wrote ${join(dir.path, p)}`),
  );
  for (const path of Object.values(MIXIN_FILES)) {
    assert.equal(
      await readFile(join(MIXIN_DIR, path), 'utf8'),
      await readFile(join(dir.path, path), 'utf8'),
      `mixin/${path} is stale: run \`badgateway mixin --out mixin\``,
    );
  }
  assert.deepEqual((await readdir(MIXIN_DIR)).sort(), [
    'dashboards_out',
    'mixin.libsonnet',
    'prometheus_alerts.yaml',
    'prometheus_rules.yaml',
  ]);
});

test('promtool check rules passes on every rules file: the committed ones and a customised render', {
  timeout: 60_000,
}, async (t) => {
  if (!PROMTOOL) return t.skip(NO_PROMTOOL);
  await using dir = await createTempDir('bg-mixin-');
  const custom = resolveMixinConfig({
    selector: 'job=~"app|doctor"',
    rateInterval: '2m',
    for: { fdExhaustionCritical: '30s' },
    fdCriticalRatio: 0.9,
  });
  for (const file of renderMixinFiles(custom)) {
    if (file.path.endsWith('.yaml')) await writeFile(join(dir.path, file.path), file.content);
  }
  const files = [
    join(MIXIN_DIR, MIXIN_FILES.rules),
    join(MIXIN_DIR, MIXIN_FILES.alerts),
    join(dir.path, MIXIN_FILES.rules),
    join(dir.path, MIXIN_FILES.alerts),
  ];
  const r = await promtool(['check', 'rules', ...files]);
  assert.equal(r.code, 0, r.out);
  const found = [...r.out.matchAll(/SUCCESS: (\d+) rules found/g)].map((m) => Number(m[1]));
  const alerts = createAlertDefinitions(resolveMixinConfig()).length;
  assert.deepEqual(found, [createRecordingRules(resolveMixinConfig())[0]!.rules.length, alerts, 7, alerts]);
  const customRules = await readFile(join(dir.path, MIXIN_FILES.rules), 'utf8');
  assert.match(customRules, /rate\(badgateway_guard_requests_shed_total\{job=~"app\|doctor"\}\[2m\]\)/);
  const customAlerts = await readFile(join(dir.path, MIXIN_FILES.alerts), 'utf8');
  assert.match(customAlerts, /expr: process:badgateway_open_fds:ratio >= 0\.9\n\s+for: 30s/);
});

test('a rules file promtool rejects fails the check (the test can fail)', { timeout: 20_000 }, async (t) => {
  if (!PROMTOOL) return t.skip(NO_PROMTOOL);
  await using dir = await createTempDir('bg-mixin-');
  const bad = (await readFile(join(MIXIN_DIR, MIXIN_FILES.alerts), 'utf8')).replace(
    'process:badgateway_open_fds:ratio >= 0.8',
    'process:badgateway_open_fds:ratio >=',
  );
  await writeFile(join(dir.path, 'bad.yaml'), bad);
  const r = await promtool(['check', 'rules', join(dir.path, 'bad.yaml')]);
  assert.equal(r.code, 1, r.out);
});

test("promtool test rules: every alert fires on its cause's series, at its severity, and stays silent on healthy ones", {
  timeout: 60_000,
}, async (t) => {
  // The unit tests must cover every rule: alertname, severity and source.
  const spec = parse(await readFile(UNIT_TESTS, 'utf8')) as {
    tests: {
      input_series: { series: string }[];
      alert_rule_test: { alertname: string; exp_alerts: { exp_labels: Record<string, string> }[] }[];
    }[];
  };
  const tested = new Set<string>();
  const silentSomewhere = new Set<string>();
  for (const group of spec.tests) {
    const instances = new Set(group.input_series.map((s) => /instance="([^"]+)"/.exec(s.series)?.[1]));
    for (const check of group.alert_rule_test) {
      const firing = new Set(check.exp_alerts.map((a) => a.exp_labels['instance']));
      for (const a of check.exp_alerts)
        tested.add(`${check.alertname} ${a.exp_labels['severity']} ${a.exp_labels['source']}`);
      if ([...instances].some((i) => !firing.has(i))) silentSomewhere.add(check.alertname);
    }
  }
  const rules = createAlertDefinitions(resolveMixinConfig()).map((d) => d.rule);
  for (const rule of rules) {
    const key = `${rule.alert} ${rule.labels['severity']} ${rule.labels['source']}`;
    assert.ok(tested.has(key), `no promtool unit test makes ${key} fire: add one to test/mixin/alerts.test.yaml`);
    assert.ok(
      silentSomewhere.has(rule.alert),
      `no promtool unit test shows ${rule.alert} silent on a healthy instance`,
    );
  }
  if (!PROMTOOL) return t.skip(NO_PROMTOOL);
  const r = await promtool(['test', 'rules', UNIT_TESTS]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS/);
});

test('every cause of the catalogue has an alert (a new cause with a metric or a log pattern needs one)', () => {
  const coverage = alertCoverage(resolveMixinConfig());
  for (const cause of CAUSES) {
    assert.ok(
      (coverage.get(cause.id) ?? []).length > 0,
      `cause ${cause.id} has no alert: add a rule on its live metric to createAlertDefinitions (src/mixin/alerts.ts), or give it a log pattern whose first cause it is`,
    );
  }
  assert.deepEqual(coverage.get('fd-exhaustion'), ['fdExhaustionWarning', 'fdExhaustionCritical']);
});

/** Metric names every exporter declares (# TYPE lines), read from real registries. */
async function exportedNames(): Promise<Set<string>> {
  const guardText = await guardExposition();
  const doctorText = await doctorExposition({ pids: [process.pid], intervalMs: 0 });
  return new Set([...`${guardText}\n${doctorText}`.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

/** Series names an expression reads: ours (badgateway_…), recorded ones (with a colon), and ALERTS. */
function namesIn(expr: string): string[] {
  const stripped = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...stripped.matchAll(/\b(badgateway_[a-z0-9_]+|[a-z_]+:[a-z0-9_:]+|ALERTS)\b/g)].map((m) => m[1]!);
}

test('dashboard: datasource variable, overview and a row per cause; every expression parses and every metric exists in the exporters', {
  timeout: 60_000,
}, async (t) => {
  const config = resolveMixinConfig();
  const dashboard = createDashboard(config) as {
    templating: { list: { name: string; type: string }[] };
    panels: Panel[];
  };
  assert.deepEqual(
    dashboard.templating.list.map((v) => `${v.name}:${v.type}`),
    ['datasource:datasource', 'instance:query'],
  );
  const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
  assert.deepEqual(rows, ['Fleet overview', ...CAUSES.map((c) => `${c.id}: ${c.title}`)]);
  const datasources = new Set(
    JSON.stringify(dashboard)
      .match(/"uid":"[^"]*"/g)
      ?.filter((u) => u !== `"uid":"${config.dashboard.uid}"`),
  );
  assert.deepEqual([...datasources], ['"uid":"${datasource}"'], 'every panel reads the datasource variable');

  const expressions = dashboardExpressions(dashboard);
  assert.ok(expressions.length >= 20, `${expressions.length} expressions`);
  const recorded = new Set(createRecordingRules(config).flatMap((g) => g.rules.map((r) => r.record)));
  const exported = await exportedNames();
  const ruleExprs = [
    ...createRecordingRules(config).flatMap((g) => g.rules.map((r) => r.expr)),
    ...createAlertDefinitions(config).map((d) => d.rule.expr),
  ];
  for (const expr of [...expressions, ...ruleExprs]) {
    for (const name of namesIn(expr)) {
      if (name === 'ALERTS') continue;
      assert.ok(
        exported.has(name) || recorded.has(name),
        `${name} (in ${expr}) is neither exported by the guard or doctor nor recorded by the rules`,
      );
    }
  }
  // A selector reaches every raw series of the dashboard.
  const selected = dashboardExpressions(
    createDashboard(resolveMixinConfig({ selector: 'env="prod"' })) as { panels: Panel[] },
  );
  for (const expr of selected) {
    for (const name of namesIn(expr).filter((x) => x.startsWith('badgateway_')))
      assert.match(expr, new RegExp(`${name}\\{[^}]*env="prod"`), expr);
  }
  if (!PROMTOOL) return t.skip(NO_PROMTOOL);
  // promtool parses expressions through a rule file: one recording rule per panel query.
  await using dir = await createTempDir('bg-mixin-');
  const rules = [...expressions, ...selected].map((expr, i) => ({
    record: `dashboard:expr_${i}`,
    expr: expr.replaceAll('$instance', '.*'),
  }));
  await writeFile(join(dir.path, 'dashboard.rules.json'), JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
  const r = await promtool(['check', 'rules', join(dir.path, 'dashboard.rules.json')]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`SUCCESS: ${expressions.length + selected.length} rules found`));
});

test("README's metric vocabulary and alert tables are the generated ones", async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  assert.equal(/<!-- metrics:start -->\n([\s\S]*?)<!-- metrics:end -->/.exec(readme)?.[1], renderMetricsMarkdown());
  assert.equal(
    /<!-- alerts:start -->\n([\s\S]*?)<!-- alerts:end -->/.exec(readme)?.[1],
    renderAlertsMarkdown(resolveMixinConfig()),
  );
});

test("README's runbooks are the ones renderRunbooksMarkdown generates, one section per cause", async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = /<!-- runbooks:start -->\n([\s\S]*?)<!-- runbooks:end -->/.exec(readme)?.[1];
  assert.equal(section, renderRunbooksMarkdown(resolveMixinConfig()));
  for (const cause of CAUSES) assert.match(section ?? '', new RegExp(`^### ${cause.id}$`, 'm'));
  // Every alert's runbook_url points at one of them (or at the README's guard and causes sections).
  for (const d of createAlertDefinitions(resolveMixinConfig())) {
    const anchor = d.rule.annotations.runbook_url.replace(MIXIN_DEFAULTS.runbookUrlPattern.replace('%s', ''), '');
    const anchors = [
      ...CAUSES.map((c) => c.id),
      'backlog-overflow-{{ $labels.kind }}',
      'badgatewayguard',
      'the-causes',
    ];
    assert.ok(anchors.includes(anchor), `${d.key}: runbook anchor ${anchor}`);
  }
});

test('mixin: bad input is one line and exit 2', { timeout: 30_000 }, async () => {
  await using dir = await createTempDir('bg-mixin-');
  const cases: [string[], string | undefined, RegExp][] = [
    [['mixin'], undefined, /--out/],
    [
      ['mixin', '--out', dir.path, '--config', join(dir.path, 'missing.json')],
      undefined,
      /cannot read .*missing\.json/,
    ],
    [['mixin', '--out', dir.path, '--config', join(dir.path, 'c.json')], '{"selectr": "job=\\"x\\""}', /selectr/],
    [
      ['mixin', '--out', dir.path, '--config', join(dir.path, 'c.json')],
      '{"for": {"fdExhaustionCritical": "soon"}}',
      /for\.fdExhaustionCritical/,
    ],
    [['mixin', '--out', dir.path, '--config', join(dir.path, 'c.json')], '{"fdWarningRatio": 80}', /fdWarningRatio/],
    [['mixin', '--out', dir.path, '--config', join(dir.path, 'c.json')], 'not json', /not JSON/],
    // A regular file where a directory should be (ENOTDIR).
    [['mixin', '--out', join(dir.path, 'c.json', 'sub')], '{}', /cannot write .*ENOTDIR/],
  ];
  for (const [args, config, message] of cases) {
    if (config !== undefined) await writeFile(join(dir.path, 'c.json'), config);
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('  hint:')).length,
      1,
      r.stderr,
    );
  }
});

test('mixin.libsonnet gives jsonnet users the same rules and dashboard', { timeout: 30_000 }, async (t) => {
  const jsonnet = which('jsonnet');
  if (!jsonnet) return t.skip('jsonnet not installed (apt-get install jsonnet)');
  const r = await runCommand(jsonnet, [
    '-J',
    MIXIN_DIR,
    '-e',
    "local m = import 'mixin.libsonnet'; { rules: m.prometheusRules, alerts: m.prometheusAlerts, dashboards: std.objectFields(m.grafanaDashboards) }",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { rules: unknown; alerts: unknown; dashboards: string[] };
  assert.deepEqual(out.rules, parse(await readFile(join(MIXIN_DIR, MIXIN_FILES.rules), 'utf8')));
  assert.deepEqual(out.alerts, parse(await readFile(join(MIXIN_DIR, MIXIN_FILES.alerts), 'utf8')));
  assert.deepEqual(out.dashboards, ['badgateway-overview.json']);
});
