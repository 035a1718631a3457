import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METRICS, metricsOf } from '../../src/metrics/index.js';
import { which } from '../../src/util/index.js';
import { runCommand } from '../../src/testing/index.js';
import { doctorExposition, guardExposition } from '../helpers/exporters.js';

const declared = (text: string): string[] =>
  [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();

test('the guard and doctor export exactly their part of the vocabulary, and the same names for the same facts', async () => {
  const guardText = await guardExposition();
  const doctorText = await doctorExposition();
  assert.deepEqual(
    declared(guardText),
    metricsOf('guard')
      .map((m) => `${m.name} ${m.type}`)
      .sort(),
  );
  assert.deepEqual(
    declared(doctorText),
    metricsOf('doctor')
      .map((m) => `${m.name} ${m.type}`)
      .sort(),
  );
  const shared = metricsOf('guard')
    .filter((m) => m.labels.doctor !== undefined)
    .map((m) => m.name);
  assert.deepEqual(shared, [METRICS.processOpenFds.name, METRICS.processMaxFds.name]);
});

test('naming conventions: badgateway_ prefix, counters and only counters end in _total, units and ratios in the name, no pid/path/client labels', () => {
  for (const m of Object.values(METRICS)) {
    assert.match(m.name, /^badgateway_[a-z0-9_]+$/);
    assert.equal(m.name.endsWith('_total'), m.type === 'counter', m.name);
    assert.doesNotMatch(m.name, /_(ms|milliseconds|percent|kb|mb)(_|$)/, `${m.name}: base units`);
    for (const labels of Object.values(m.labels)) {
      for (const label of labels)
        assert.doesNotMatch(label, /^(pid|path|url|client|ip|remote_addr|request)$/, `${m.name}{${label}}`);
    }
  }
});

test("promtool check metrics passes on the guard's output", { timeout: 20_000 }, async (t) => {
  if (!which('promtool')) return t.skip('promtool not installed (apt-get install prometheus)');
  const text = await guardExposition((guard) => guard.admit({ headers: {} }));
  const r = await runCommand('promtool', ['check', 'metrics'], { input: text });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '');
});
