import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Guard } from '../guard.js';
import type { GuardRequest } from '../options.js';
import { toGuard, type GuardOrOptions } from './common.js';

/** The part of a Hono context the guard uses (Hono's `Context` satisfies it). */
export interface HonoLikeContext {
  req: { raw: Request; method: string; url: string };
  /** With `@hono/node-server`: `{ incoming, outgoing }`, the node:http request and response. */
  env?: unknown;
}

/** Hono middleware; its `guard` is the one it checks against. */
export interface HonoGuardMiddleware {
  (c: HonoLikeContext, next: () => Promise<void>): Promise<Response | void>;
  guard: Guard;
}

interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

/**
 * Hono middleware: returns the 503 before later middleware runs. On `@hono/node-server` it uses
 * the node:http request (for `skip`/`onShed`) and counts a request in flight until its response
 * closes; elsewhere until `next()` settles. For the reaper, `guard.attach(serve(...))`.
 */
export function honoGuard(guardOrOptions?: GuardOrOptions): HonoGuardMiddleware {
  const { guard } = toGuard(guardOrOptions);
  const middleware = (async (c, next) => {
    const { incoming, outgoing } = (c.env ?? {}) as NodeBindings;
    const node = incoming !== undefined && outgoing !== undefined;
    const req: GuardRequest = incoming ?? {
      method: c.req.method,
      url: c.req.url,
      headers: Object.fromEntries(c.req.raw.headers),
    };
    const reason = node ? guard.enter(incoming, outgoing) : guard.admit(req);
    if (reason !== undefined) {
      const shed = guard.shedResponse(reason);
      return new Response(shed.body, { status: shed.status, headers: shed.headers });
    }
    if (node) {
      await next(); // in flight until the node response closes (enter)
      return;
    }
    try {
      await next();
    } finally {
      guard.release();
    }
  }) as HonoGuardMiddleware;
  middleware.guard = guard;
  return middleware;
}
