import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Knows every connection of the servers it is attached to and which of them are idle: no request
 * in progress (between keep-alive requests, or connected but not yet sent a full header — which is
 * also what a slowloris client looks like). Node's `server.closeIdleConnections()` closes *all*
 * idle connections; the reaper needs *the oldest few*, so the tracker keeps its own order.
 */
export interface SocketTracker {
  /** Starts tracking `server`'s connections (call before `listen`; earlier sockets are unknown). */
  attach(server: Server): void;
  /** Stops tracking every attached server (sockets stay open). */
  detach(): void;
  /** Closes up to `n` idle sockets, oldest idle first, never `except`; returns how many it closed. */
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

interface SocketState {
  /** Requests on this socket whose response has not closed yet (pipelining can make it > 1). */
  active: number;
  reaped: boolean;
}

/** Creates a {@link SocketTracker}; `hooks` let the guard keep its fd estimate current. */
export function createSocketTracker(hooks: SocketTrackerHooks): SocketTracker {
  const states = new Map<Socket, SocketState>();
  // A Set iterates in insertion order, and a socket is (re)inserted when it becomes idle, so the
  // first element is always the one idle the longest: the cheapest to close under pressure.
  const idle = new Set<Socket>();
  const servers: Array<{ server: Server; detach: () => void }> = [];

  const onConnection = (socket: Socket): void => {
    const state: SocketState = { active: 0, reaped: false };
    states.set(socket, state);
    idle.add(socket);
    socket.once('close', () => {
      states.delete(socket);
      idle.delete(socket);
      if (!state.reaped) hooks.onClose();
    });
    hooks.onOpen(socket);
  };

  const onRequest = (req: { socket: Socket }, res: { once(event: 'close', cb: () => void): unknown }): void => {
    const socket = req.socket;
    const state = states.get(socket);
    if (!state) return;
    state.active += 1;
    idle.delete(socket);
    res.once('close', () => {
      state.active -= 1;
      if (state.active === 0 && !socket.destroyed && states.has(socket)) idle.add(socket);
    });
  };

  // An upgraded socket (WebSocket) belongs to the application now: never idle for us.
  const onUpgrade = (_req: unknown, socket: Socket): void => {
    const state = states.get(socket);
    if (!state) return;
    state.active += 1;
    idle.delete(socket);
  };

  return {
    attach(server) {
      if (servers.some((s) => s.server === server)) return;
      server.on('connection', onConnection);
      server.prependListener('request', onRequest);
      server.on('upgrade', onUpgrade);
      servers.push({
        server,
        detach: () => {
          server.off('connection', onConnection);
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
      for (const socket of idle) {
        if (closed >= n) break;
        if (socket === except) continue;
        const state = states.get(socket);
        idle.delete(socket);
        if (!state) continue;
        state.reaped = true;
        // destroy() closes the fd synchronously, so an accept() running right after succeeds.
        socket.destroy();
        closed += 1;
      }
      return closed;
    },
    get tracked() {
      return states.size;
    },
    get idle() {
      return idle.size;
    },
  };
}
