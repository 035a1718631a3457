/**
 * The socket tracker's reaping order and its lazy queues, on stand-in servers and sockets
 * (EventEmitters): exact, and at a scale (20,000 sockets) real ones would need 40,000 fds for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { createSocketTracker, FRESH_GRACE_MS } from '../../src/guard/socket-tracker.js';

class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(readonly id: number) {
    super();
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

test('reapIdle: kept-alive sockets idle the longest go first; busy and reaped ones never; stale queue entries skipped', () => {
  const server = new EventEmitter();
  const tracker = createSocketTracker({ onOpen: () => {}, onClose: () => {} });
  tracker.attach(server as unknown as Server);
  const sockets = Array.from({ length: 10 }, (_, i) => new FakeSocket(i));
  for (const s of sockets) server.emit('connection', s);
  const serve = (s: FakeSocket): (() => void) => {
    const res = new EventEmitter() as EventEmitter & { req: { socket: Socket } };
    res.req = { socket: s as unknown as Socket };
    server.emit('request', res.req, res);
    return () => res.emit('close');
  };
  // Every socket serves a request and goes idle in order 0..9; then 2 and 5 serve again (busy,
  // their first idle entry goes stale), 5 goes idle again (newest now).
  for (const s of sockets) serve(s)();
  const end2 = serve(sockets[2]!);
  serve(sockets[5]!)();
  assert.equal(tracker.idle, 9);
  assert.equal(tracker.reapIdle(3), 3);
  assert.deepEqual(
    sockets.map((s) => s.destroyed),
    [true, true, false, true, false, false, false, false, false, false],
  );
  assert.equal(tracker.reapIdle(5), 5);
  // 4, 6, 7, 8, 9 went; 5 (idle most recently) and 2 (busy) stay.
  assert.deepEqual(
    sockets.filter((s) => !s.destroyed).map((s) => s.id),
    [2, 5],
  );
  end2();
  assert.equal(tracker.reapIdle(10), 2, 'then 5, then 2 (idle last)');
  assert.equal(tracker.tracked, 0);
});

test('reapIdle: fresh sockets go only after the grace, oldest first; the one being accepted never', async () => {
  const server = new EventEmitter();
  const tracker = createSocketTracker({ onOpen: () => {}, onClose: () => {} });
  tracker.attach(server as unknown as Server);
  const old = [new FakeSocket(1), new FakeSocket(2)];
  for (const s of old) server.emit('connection', s);
  await new Promise((r) => setTimeout(r, FRESH_GRACE_MS + 50));
  const young = new FakeSocket(3);
  server.emit('connection', young);
  assert.equal(tracker.reapIdle(5, young as unknown as Socket), 2);
  assert.deepEqual(
    [...old, young].map((s) => s.destroyed),
    [true, true, false],
  );
});

test('20,000 busy sockets after 200,000 requests: a reap with nothing idle finds nothing, then all 20,000 go in one call', () => {
  const server = new EventEmitter();
  const tracker = createSocketTracker({ onOpen: () => {}, onClose: () => {} });
  tracker.attach(server as unknown as Server);
  const sockets = Array.from({ length: 20_000 }, (_, i) => new FakeSocket(i));
  for (const s of sockets) server.emit('connection', s);
  // Ten requests per socket, each response closing (idle) then the next request (busy again):
  // 200,000 queue pushes, all but the last per socket stale.
  let open: Array<() => void> = [];
  for (let round = 0; round < 10; round++) {
    for (const s of sockets) {
      const res = new EventEmitter() as EventEmitter & { req: { socket: Socket } };
      res.req = { socket: s as unknown as Socket };
      server.emit('request', res.req, res);
      if (round < 9) res.emit('close');
      else open.push(() => res.emit('close'));
    }
  }
  // Every socket is busy: a reap finds nothing, however often it is asked.
  for (let i = 0; i < 1000; i++) assert.equal(tracker.reapIdle(1), 0);
  for (const end of open) end();
  open = [];
  assert.equal(tracker.idle, 20_000);
  assert.equal(tracker.reapIdle(20_000), 20_000);
  assert.equal(tracker.tracked, 0);
});
