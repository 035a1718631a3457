import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Knows every connection of the servers it is attached to and which of them are idle: no request
 * in progress. Two kinds: *kept-alive* (served a request, waiting for the next) and *fresh*
 * (connected, no complete request header yet — a client about to send, or a slowloris one).
 * Node's `server.closeIdleConnections()` closes *all* idle connections; the reaper needs *the
 * oldest few*, so the tracker keeps its own order.
 */
export interface SocketTracker {
  /**
   * Starts tracking `server`'s connections (call before `listen`; earlier sockets are unknown).
   * With `requests: 'manual'` it adds no 'request' listener: the caller, already in the request
   * path, calls {@link SocketTracker.markBusy} (a second 'request' listener makes every emit take
   * EventEmitter's slower many-listeners path).
   */
  attach(server: Server, options?: { requests?: 'listener' | 'manual' }): void;
  /**
   * For servers attached with `requests: 'manual'`: marks `req`'s socket busy and returns true;
   * the caller then calls {@link SocketTracker.responseClosed} when the response closes (from its
   * own 'close' listener: one listener per response instead of two, as a second one makes Node
   * allocate a listener array). Returns false for sockets it does not track this way.
   */
  markBusy(req: { socket: Socket }): boolean;
  /** A response's 'close' listener (`this` is the response). */
  readonly responseClosed: (this: { req: { socket: Socket } }) => void;
  /** Stops tracking every attached server (sockets stay open). */
  detach(): void;
  /**
   * Closes up to `n` idle sockets, never `except`: kept-alive ones first, idle the longest first;
   * then fresh ones connected at least {@link FRESH_GRACE_MS} ago (a client that has not sent a
   * header in that long is slow or hostile; a younger one is most likely sending right now, and
   * closing it would turn its request into a reset). Returns how many it closed.
   */
  reapIdle(n: number, except?: Socket): number;
  /** Connections open now. */
  readonly tracked: number;
  /** Of those, idle now. */
  readonly idle: number;
}

export interface SocketTrackerHooks {
  /** A connection was accepted (before any request on it). */
  onOpen(socket: Socket): void;
  /** A connection closed by anyone but the reaper (reaped ones are accounted by `reapIdle`). */
  onClose(): void;
}

/** A fresh connection (no request yet) is not reaped before it is this old, in ms. */
export const FRESH_GRACE_MS = 500;

interface SocketState {
  /** Requests on this socket whose response has not closed yet (pipelining can make it > 1). */
  active: number;
  /** No request in progress and not reaped or upgraded: a candidate for the reaper. */
  idle: boolean;
  /** Has served a request: idle now means kept-alive, not fresh. */
  served: boolean;
  /** When it last became idle, as a count of such events (the reaper closes the lowest first). */
  idleSeq: number;
  reaped: boolean;
  connectedAt: number;
  /** Its server was attached with `requests: 'manual'`. */
  manual: boolean;
}

/**
 * Sockets in the order of an event (became idle, connected), for the reaper to take oldest first
 * in amortised O(1): a push per event, no delete. An entry goes stale when its socket moves on
 * (busy again, idle again later, closed); the reaper skips stale entries as it pops, and the queue
 * is compacted once stale entries outnumber live sockets, so it never holds more than about twice
 * the tracked sockets. Two parallel arrays: a push allocates nothing on the request path.
 */
class LazyQueue {
  private sockets: Socket[] = [];
  private seqs: number[] = [];
  private head = 0;

  push(socket: Socket, seq: number, live: number, isCurrent: (socket: Socket, seq: number) => boolean): void {
    this.sockets.push(socket);
    this.seqs.push(seq);
    if (this.sockets.length - this.head > 2 * live + 64) this.compact(isCurrent);
  }

  /** The oldest current entry (stale ones before it are dropped), or undefined. */
  peek(isCurrent: (socket: Socket, seq: number) => boolean): Socket | undefined {
    while (this.head < this.sockets.length) {
      const socket = this.sockets[this.head]!;
      if (isCurrent(socket, this.seqs[this.head]!)) return socket;
      this.head++;
    }
    return undefined;
  }

  /** Drops the entry {@link peek} returned. */
  shift(): void {
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.sockets.length) this.compact(() => true);
  }

  private compact(isCurrent: (socket: Socket, seq: number) => boolean): void {
    const sockets: Socket[] = [];
    const seqs: number[] = [];
    for (let i = this.head; i < this.sockets.length; i++) {
      if (!isCurrent(this.sockets[i]!, this.seqs[i]!)) continue;
      sockets.push(this.sockets[i]!);
      seqs.push(this.seqs[i]!);
    }
    this.sockets = sockets;
    this.seqs = seqs;
    this.head = 0;
  }
}

/** The tracker's own bookkeeping: every socket's state and the two orders the reaper takes them in. */
interface Registry {
  states: Map<Socket, SocketState>;
  /** Kept-alive sockets, oldest idle first. */
  keptAlive: LazyQueue;
  /** Fresh sockets (no request yet), in connection order. */
  fresh: LazyQueue;
  isKeptAliveIdle(socket: Socket, seq: number): boolean;
  isFreshIdle(socket: Socket, seq: number): boolean;
  /** A new connection: fresh and idle, the youngest in connection order. */
  connected(socket: Socket, manual: boolean): SocketState;
  /** A socket whose last response closed: kept-alive and idle, the youngest in idle order. */
  becameIdle(socket: Socket, state: SocketState): void;
}

function createRegistry(): Registry {
  const states = new Map<Socket, SocketState>();
  // The order of idleness: a counter, stamped on the state and on its queue entry.
  let idleSeq = 0;
  const registry: Registry = {
    states,
    keptAlive: new LazyQueue(),
    fresh: new LazyQueue(),
    isKeptAliveIdle(socket, seq) {
      const state = states.get(socket);
      return state !== undefined && state.idle && state.served && state.idleSeq === seq;
    },
    isFreshIdle(socket, seq) {
      const state = states.get(socket);
      return state !== undefined && state.idle && !state.served && state.idleSeq === seq;
    },
    connected(socket, manual) {
      const state: SocketState = {
        active: 0,
        idle: true,
        served: false,
        idleSeq: ++idleSeq,
        reaped: false,
        connectedAt: Date.now(),
        manual,
      };
      states.set(socket, state);
      registry.fresh.push(socket, state.idleSeq, states.size, registry.isFreshIdle);
      return state;
    },
    becameIdle(socket, state) {
      state.idle = true;
      state.idleSeq = ++idleSeq;
      registry.keptAlive.push(socket, state.idleSeq, states.size, registry.isKeptAliveIdle);
    },
  };
  return registry;
}

/**
 * Closes up to `n` idle sockets, never `except` (see {@link SocketTracker.reapIdle}). Each step
 * pops one entry: the cost is the sockets closed plus stale entries skipped, which are paid for
 * once by the pushes that made them.
 */
function reapOldest(registry: Registry, n: number, except: Socket | undefined): number {
  const { states, keptAlive, fresh } = registry;
  let closed = 0;
  const close = (socket: Socket): void => {
    const state = states.get(socket)!;
    state.reaped = true;
    state.idle = false;
    // destroy() closes the fd synchronously, so an accept() running right after succeeds.
    socket.destroy();
    closed += 1;
  };
  while (closed < n) {
    const socket = keptAlive.peek(registry.isKeptAliveIdle);
    if (socket === undefined) break;
    keptAlive.shift();
    if (socket !== except) close(socket);
  }
  // Fresh ones in connection order, once past the grace.
  const graceEnd = Date.now() - FRESH_GRACE_MS;
  while (closed < n) {
    const socket = fresh.peek(registry.isFreshIdle);
    // The rest are younger (`except` is the connection being accepted: the youngest of all).
    if (socket === undefined || socket === except || states.get(socket)!.connectedAt > graceEnd) break;
    fresh.shift();
    close(socket);
  }
  return closed;
}

/** A server's listeners, in one place, so they come off as they went on. */
function listenTo(
  server: Server,
  manual: boolean,
  on: {
    connection(socket: Socket, manual: boolean): void;
    request(req: { socket: Socket }, res: { on(event: 'close', cb: () => void): unknown }): void;
    upgrade(req: unknown, socket: Socket): void;
  },
): () => void {
  const onConnection = (socket: Socket): void => on.connection(socket, manual);
  server.on('connection', onConnection);
  if (!manual) server.prependListener('request', on.request);
  server.on('upgrade', on.upgrade);
  return () => {
    server.off('connection', onConnection);
    server.off('request', on.request);
    server.off('upgrade', on.upgrade);
  };
}

/**
 * Creates a {@link SocketTracker}; `hooks` let the guard keep its fd estimate current.
 *
 * The order of idleness is a counter stamped on the socket's state plus a lazy queue, not an
 * ordered Set: deleting and re-adding every socket on every request churned the Set's hash
 * table (rehash garbage per few dozen requests). A counter needs no clock on the request path,
 * and the queue gives the reaper the oldest idle socket without scanning and sorting them all
 * (that cost 250–290 µs per accepted connection at 20,000 sockets above reapFdRatio).
 */
export function createSocketTracker(hooks: SocketTrackerHooks): SocketTracker {
  const registry = createRegistry();
  const { states } = registry;
  const servers: Array<{ server: Server; detach: () => void }> = [];

  const connection = (socket: Socket, manual: boolean): void => {
    const state = registry.connected(socket, manual);
    socket.once('close', () => {
      states.delete(socket);
      if (!state.reaped) hooks.onClose();
    });
    hooks.onOpen(socket);
  };

  // One shared listener, no closure per request: the hot path allocates nothing here. (res.socket
  // is already detached when 'close' fires; res.req.socket is not.)
  function onResponseClose(this: { req: { socket: Socket } }): void {
    const socket = this.req.socket;
    const state = states.get(socket);
    if (!state) return;
    state.active -= 1;
    if (state.active === 0 && !state.reaped && !socket.destroyed) registry.becameIdle(socket, state);
  }

  const busy = (state: SocketState): void => {
    state.active += 1;
    state.idle = false;
    state.served = true;
  };

  const request = (req: { socket: Socket }, res: { on(event: 'close', cb: () => void): unknown }): void => {
    const state = states.get(req.socket);
    if (!state) return;
    busy(state);
    res.on('close', onResponseClose);
  };

  // An upgraded socket (WebSocket) belongs to the application now: never idle for us.
  const upgrade = (_req: unknown, socket: Socket): void => {
    const state = states.get(socket);
    if (!state) return;
    state.active += 1;
    state.idle = false;
  };

  return {
    markBusy(req) {
      const state = states.get(req.socket);
      if (!state?.manual) return false;
      busy(state);
      return true;
    },
    responseClosed: onResponseClose,
    attach(server, { requests = 'listener' } = {}) {
      if (servers.some((s) => s.server === server)) return;
      servers.push({ server, detach: listenTo(server, requests === 'manual', { connection, request, upgrade }) });
    },
    detach() {
      for (const s of servers.splice(0)) s.detach();
    },
    reapIdle: (n, except) => (n <= 0 ? 0 : reapOldest(registry, n, except)),
    get tracked() {
      return states.size;
    },
    get idle() {
      let n = 0;
      for (const state of states.values()) if (state.idle) n += 1;
      return n;
    },
  };
}
