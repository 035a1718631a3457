/**
 * The open loop in virtual time: the clock and its timers are injected, so pacing, batching,
 * the in-flight cap and the late stop are checked exactly and without waiting for anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createConstantPacer,
  createOpenLoop,
  createSharePacer,
  LATE_STOP_MIN_MS,
  MAX_BATCH,
  type LoopClock,
  type Pacer,
} from '../../src/load/index.js';

/** A clock that moves only when a timer is due: run() fires timers in time order (immediates first at a tie). */
function createVirtualClock(
  startMs = 0,
): LoopClock & { nowMs: number; run(maxSteps?: number): void; pending(): number; immediates: number } {
  let seq = 0;
  const timers = new Map<number, { at: number; order: number; fn: () => void }>();
  const clock = {
    nowMs: startMs,
    immediates: 0,
    now: () => clock.nowMs,
    setTimeout(fn: () => void, ms: number) {
      timers.set(++seq, { at: clock.nowMs + ms, order: seq, fn });
      return seq;
    },
    clearTimeout: (handle: unknown) => void timers.delete(handle as number),
    setImmediate(fn: () => void) {
      clock.immediates += 1;
      timers.set(++seq, { at: clock.nowMs, order: seq, fn });
      return seq;
    },
    clearImmediate: (handle: unknown) => void timers.delete(handle as number),
    pending: () => timers.size,
    run(maxSteps = 1_000_000) {
      for (let step = 0; step < maxSteps && timers.size > 0; step++) {
        const [id, next] = [...timers].reduce((a, b) =>
          b[1].at < a[1].at || (b[1].at === a[1].at && b[1].order < a[1].order) ? b : a,
        );
        timers.delete(id);
        clock.nowMs = Math.max(clock.nowMs, next.at);
        next.fn();
      }
    },
  };
  return clock;
}

interface Sent {
  dueMs: number;
  atMs: number;
}

/** Runs an open loop whose requests finish at once (or never, with `hold`); returns what it sent and how it ended. */
function drive(
  pacer: Pacer,
  limits: { total: number; durationMs: number; maxInflight?: number },
  clock: ReturnType<typeof createVirtualClock>,
  hold = false,
) {
  const sent: Sent[] = [];
  const ends: number[] = [];
  let inflight = 0;
  const loop = createOpenLoop(pacer, { maxInflight: Infinity, ...limits }, clock, {
    send(dueMs) {
      sent.push({ dueMs, atMs: clock.now() });
      if (hold) inflight += 1;
    },
    inflight: () => inflight,
    done: (unsent) => ends.push(unsent),
  });
  return {
    loop,
    sent,
    ends,
    finishOne() {
      inflight -= 1;
      loop.resume();
    },
  };
}

test('open loop: every request leaves at its due time (200/s for 50 ms), then done with nothing unsent', () => {
  const pacer = createConstantPacer(200);
  const clock = createVirtualClock();
  const run = drive(pacer, { total: pacer.countWithin(50), durationMs: 50 }, clock);
  run.loop.start();
  clock.run();
  assert.deepEqual(
    run.sent.map((s) => s.dueMs),
    [0, 5, 10, 15, 20, 25, 30, 35, 40, 45],
  );
  assert.deepEqual(
    run.sent.map((s) => s.atMs),
    [0, 5, 10, 15, 20, 25, 30, 35, 40, 45],
  );
  assert.deepEqual(run.ends, [0]);
  assert.equal(run.loop.sent, 10);
  assert.equal(clock.pending(), 0);
});

test('open loop: a late start sends what is due at once, keeping each due time (latency counts from it)', () => {
  const pacer = createConstantPacer(100);
  const clock = createVirtualClock(35); // the loop woke 35 ms late
  const run = drive(pacer, { total: 6, durationMs: 60 }, clock);
  run.loop.start();
  // Due at 0, 10, 20, 30 went out together at 35; 40 and 50 on time.
  assert.deepEqual(run.sent, [
    { dueMs: 0, atMs: 35 },
    { dueMs: 10, atMs: 35 },
    { dueMs: 20, atMs: 35 },
    { dueMs: 30, atMs: 35 },
  ]);
  clock.run();
  assert.deepEqual(run.sent.slice(4), [
    { dueMs: 40, atMs: 40 },
    { dueMs: 50, atMs: 50 },
  ]);
  assert.deepEqual(run.ends, [0]);
});

test(`open loop: a backlog goes out in batches of ${MAX_BATCH}, yielding to I/O between them`, () => {
  const pacer = createConstantPacer(100_000); // one every 10 µs
  const clock = createVirtualClock(10); // 1,001 due already
  const run = drive(pacer, { total: 1001, durationMs: 10 }, clock);
  run.loop.start();
  assert.equal(run.sent.length, MAX_BATCH);
  assert.equal(clock.immediates, 1);
  clock.run();
  assert.equal(run.sent.length, 1001);
  assert.equal(clock.immediates, Math.ceil(1001 / MAX_BATCH) - 1);
  assert.deepEqual(run.ends, [0]);
});

test('open loop: at maxInflight it waits for a request to finish, then goes on (late, with the same due times)', () => {
  const pacer = createConstantPacer(1000);
  const clock = createVirtualClock();
  const run = drive(pacer, { total: 5, durationMs: 5, maxInflight: 2 }, clock, true);
  run.loop.start();
  clock.run();
  assert.deepEqual(
    run.sent.map((s) => s.dueMs),
    [0, 1],
  );
  assert.equal(clock.pending(), 0, 'blocked: no timer, nothing to do until a request finishes');
  clock.nowMs = 7;
  run.finishOne();
  clock.run();
  assert.deepEqual(run.sent.slice(2), [{ dueMs: 2, atMs: 7 }]);
  run.finishOne();
  run.finishOne();
  clock.run();
  assert.deepEqual(
    run.sent.map((s) => s.dueMs),
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual(run.ends, [0]);
});

test(`open loop: more than the duration (at least ${LATE_STOP_MIN_MS} ms) behind the end, the rest is unsent`, () => {
  const pacer = createConstantPacer(100);
  const late = createVirtualClock(100 + LATE_STOP_MIN_MS + 1);
  const gaveUp = drive(pacer, { total: 10, durationMs: 100 }, late);
  gaveUp.loop.start();
  assert.equal(gaveUp.sent.length, 0);
  assert.deepEqual(gaveUp.ends, [10]);
  // Just inside the limit: everything is still sent, late.
  const inTime = drive(pacer, { total: 10, durationMs: 100 }, createVirtualClock(100 + LATE_STOP_MIN_MS));
  inTime.loop.start();
  assert.equal(inTime.sent.length, 10);
  assert.deepEqual(inTime.ends, [0]);
});

test('open loop: stop() ends sending at once, clears its timer and reports nothing', () => {
  const pacer = createConstantPacer(10);
  const clock = createVirtualClock();
  const run = drive(pacer, { total: 100, durationMs: 10_000 }, clock);
  run.loop.start(); // the first is due at once
  clock.run(2);
  assert.equal(run.sent.length, 3);
  run.loop.stop();
  assert.equal(clock.pending(), 0);
  run.loop.resume();
  clock.run();
  assert.equal(run.sent.length, 3);
  assert.deepEqual(run.ends, []);
});

test('open loop: three shares of a schedule, run on one clock, send exactly the one schedule', () => {
  const clock = createVirtualClock();
  const rate = 300;
  const all: number[] = [];
  for (let index = 1; index <= 3; index++) {
    const pacer = createSharePacer(rate, { index, count: 3 });
    const run = drive(pacer, { total: pacer.countWithin(100), durationMs: 100 }, clock);
    run.loop.start();
    clock.run();
    all.push(...run.sent.map((s) => s.dueMs));
    clock.nowMs = 0;
  }
  const one = createConstantPacer(rate);
  assert.deepEqual(
    all.sort((a, b) => a - b),
    Array.from({ length: one.countWithin(100) }, (_, i) => one.dueMs(i)),
  );
});
