import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadgatewayError, ERROR_CODES, exitCodeFor, badOption } from '../src/errors/index.js';
import { formatError } from '../src/cli/main.js';

test('every user-facing error code exits 2, interrupts 130, bugs 70', () => {
  for (const code of Object.values(ERROR_CODES)) {
    const expected = code === 'BG_INTERRUPTED' ? 130 : 2;
    assert.equal(exitCodeFor(new BadgatewayError(code, 'x')), expected, code);
  }
  assert.equal(exitCodeFor(new TypeError('boom')), 70);
});

test('formatError gives one line and the hint, never a stack', () => {
  const text = formatError(
    new BadgatewayError('BG_NO_NGINX', 'nginx is not installed', { hint: 'apt-get install nginx-light' }),
  );
  assert.equal(text, 'badgateway: nginx is not installed\n  hint: apt-get install nginx-light\n');
  assert.doesNotMatch(formatError(new Error('bad\nsecond line')), /second line|at /);
});

test('badOption names the option and the value', () => {
  assert.equal(badOption('--rate', -1, 'a number > 0').message, '--rate: -1 is not valid (expected a number > 0)');
});
