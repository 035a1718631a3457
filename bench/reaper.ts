/**
 * The guard's idle-socket reaper above `reapFdRatio`, per accepted connection, with 20,000 tracked
 * sockets: the tracker's lazy queues against a peer that scans and sorts every tracked socket per
 * accept (the reaper before 2026-11-30, kept here as the reference). Stand-in sockets
 * (EventEmitters): 20,000 real ones would need 40,000 fds. Two loads: every socket busy (each
 * accept finds nothing to reap: the old worst case), and 1,000 idle among them (each accept reaps
 * one, oldest idle first).
 */
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { createSocketTracker } from '../src/guard/index.js';

const SOCKETS = 20_000;
const ACCEPTS = 2_000;

class FakeSocket extends EventEmitter {
  destroyed = false;
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

interface Peer {
  accept(socket: FakeSocket): void;
}

/** The real tracker: connections, then requests that leave `idle` of them idle. */
function lazyQueues(idle: number): Peer {
  const server = new EventEmitter();
  const tracker = createSocketTracker({ onOpen: () => {}, onClose: () => {} });
  tracker.attach(server as unknown as Server);
  for (let i = 0; i < SOCKETS; i++) {
    const s = new FakeSocket();
    server.emit('connection', s);
    const res = Object.assign(new EventEmitter(), { req: { socket: s as unknown as Socket } });
    server.emit('request', res.req, res);
    if (i < idle) res.emit('close');
  }
  return {
    accept(socket) {
      server.emit('connection', socket);
      tracker.reapIdle(1, socket as unknown as Socket);
    },
  };
}

/** The old reaper: every idle socket found by a scan of all, sorted by when it became idle. */
function scanAndSort(idle: number): Peer {
  const states = new Map<FakeSocket, { idle: boolean; served: boolean; idleSeq: number }>();
  let seq = 0;
  for (let i = 0; i < SOCKETS; i++) states.set(new FakeSocket(), { idle: i < idle, served: true, idleSeq: ++seq });
  return {
    accept(socket) {
      states.set(socket, { idle: true, served: false, idleSeq: ++seq });
      const found: Array<[FakeSocket, number]> = [];
      for (const [s, st] of states) if (st.idle && st.served && s !== socket) found.push([s, st.idleSeq]);
      const victim = found.sort((a, b) => a[1] - b[1])[0];
      if (victim) {
        states.delete(victim[0]);
        victim[0].destroy();
      }
    },
  };
}

function perAcceptUs(peer: Peer): number {
  const sockets = Array.from({ length: ACCEPTS }, () => new FakeSocket());
  const t0 = performance.now();
  for (const s of sockets) peer.accept(s);
  return ((performance.now() - t0) * 1000) / ACCEPTS;
}

export async function run(): Promise<void> {
  console.log(
    `reaper bench: per accepted connection above reapFdRatio, ${SOCKETS} tracked sockets, ${ACCEPTS} accepts, median of 5 rounds`,
  );
  for (const idle of [0, 1000]) {
    const lazy: number[] = [];
    const scan: number[] = [];
    for (let round = 0; round < 5; round++) {
      lazy.push(perAcceptUs(lazyQueues(idle)));
      scan.push(perAcceptUs(scanAndSort(idle)));
    }
    const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const l = median(lazy);
    const s = median(scan);
    console.log(
      `  ${idle === 0 ? 'all busy     ' : `${idle} idle    `}  lazy queues ${l.toFixed(2)} µs/accept, scan+sort ${s.toFixed(1)} µs/accept: ${(s / l).toFixed(0)}× less`,
    );
  }
}
