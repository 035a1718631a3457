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

/** Creates a {@link SocketTracker}; `hooks` let the guard keep its fd estimate current. */
export function createSocketTracker(hooks: SocketTrackerHooks): SocketTracker {
  const states = new Map<Socket, SocketState>();
  // The order of idleness is a counter stamped on the socket's state, not its place in an
  // ordered Set: deleting and re-adding every socket on every request churned the Set's hash
  // table (rehash garbage per few dozen requests) for an order only the rare reap needs. The
  // reaper sorts then, and a counter needs no clock on the request path.
  let idleSeq = 0;
  const servers: Array<{ server: Server; detach: () => void }> = [];

  const onConnection = (socket: Socket, manual: boolean): void => {
    const state: SocketState = { active: 0, idle: true, served: false, idleSeq: ++idleSeq, reaped: false, connectedAt: Date.now(), manual };
    states.set(socket, state);
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
    if (state.active === 0 && !state.reaped && !socket.destroyed) {
      state.idle = true;
      state.idleSeq = ++idleSeq;
    }
  }

  const busy = (state: SocketState): void => {
    state.active += 1;
    state.idle = false;
    state.served = true;
  };

  const onRequest = (req: { socket: Socket }, res: { on(event: 'close', cb: () => void): unknown }): void => {
    const state = states.get(req.socket);
    if (!state) return;
    busy(state);
    res.on('close', onResponseClose);
  };

  const markBusy = (req: { socket: Socket }): boolean => {
    const state = states.get(req.socket);
    if (!state?.manual) return false;
    busy(state);
    return true;
  };

  // An upgraded socket (WebSocket) belongs to the application now: never idle for us.
  const onUpgrade = (_req: unknown, socket: Socket): void => {
    const state = states.get(socket);
    if (!state) return;
    state.active += 1;
    state.idle = false;
  };

  /** Idle sockets matching `pick`, idle the longest first. */
  const idleSockets = (pick: (state: SocketState, socket: Socket) => boolean): Socket[] => {
    const found: Array<[Socket, number]> = [];
    for (const [socket, state] of states) if (state.idle && pick(state, socket)) found.push([socket, state.idleSeq]);
    return found.sort((a, b) => a[1] - b[1]).map(([socket]) => socket);
  };

  return {
    markBusy,
    responseClosed: onResponseClose,
    attach(server, { requests = 'listener' } = {}) {
      if (servers.some((s) => s.server === server)) return;
      const manual = requests === 'manual';
      const onServerConnection = (socket: Socket): void => onConnection(socket, manual);
      server.on('connection', onServerConnection);
      if (!manual) server.prependListener('request', onRequest);
      server.on('upgrade', onUpgrade);
      servers.push({
        server,
        detach: () => {
          server.off('connection', onServerConnection);
          server.off('request', onRequest);
          server.off('upgrade', onUpgrade);
        },
      });
    },
    detach() {
      for (const s of servers.splice(0)) s.detach();
    },
    reapIdle(n, except) {
      let closed = 0;
      if (n <= 0) return closed;
      const close = (socket: Socket): void => {
        const state = states.get(socket)!;
        state.reaped = true;
        state.idle = false;
        // destroy() closes the fd synchronously, so an accept() running right after succeeds.
        socket.destroy();
        closed += 1;
      };
      for (const socket of idleSockets((state, socket) => state.served && socket !== except)) {
        if (closed >= n) return closed;
        close(socket);
      }
      // Fresh ones in connection order (their idleSeq is stamped at connect), once past the grace.
      const graceEnd = Date.now() - FRESH_GRACE_MS;
      for (const socket of idleSockets((state, socket) => !state.served && socket !== except)) {
        if (closed >= n) return closed;
        if (states.get(socket)!.connectedAt > graceEnd) break; // the rest are younger
        close(socket);
      }
      return closed;
    },
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
