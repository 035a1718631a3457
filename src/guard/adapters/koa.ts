import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Guard } from '../guard.js';
import { toGuard, type GuardOrOptions } from './common.js';

/** The part of a Koa context the guard uses (Koa's `Context` satisfies it). */
export interface KoaLikeContext {
  req: IncomingMessage;
  res: ServerResponse;
  status: number;
  body: unknown;
  set(field: string, value: string): void;
}

/** Koa middleware; its `guard` is the one it checks against. */
export interface KoaGuardMiddleware {
  (ctx: KoaLikeContext, next: () => Promise<unknown>): Promise<void>;
  guard: Guard;
}

/**
 * Koa middleware: answers 503 (through Koa, so its own response handling stays in charge) before
 * any later middleware runs. Use it first: `app.use(koaGuard(guard))`; for the reaper,
 * `guard.attach(app.listen(3000))`.
 */
export function koaGuard(guardOrOptions?: GuardOrOptions): KoaGuardMiddleware {
  const { guard } = toGuard(guardOrOptions);
  const middleware = (async (ctx, next) => {
    // enter() counts the request in flight until the response closes, however it ends (sent,
    // aborted, errored), unlike a finally around next(), which would miss a streaming body.
    const reason = guard.enter(ctx.req, ctx.res);
    if (reason !== undefined) {
      const shed = guard.shedResponse(reason);
      for (const [name, value] of Object.entries(shed.headers)) ctx.set(name, value);
      ctx.status = shed.status;
      ctx.body = shed.body;
      return;
    }
    await next();
  }) as KoaGuardMiddleware;
  middleware.guard = guard;
  return middleware;
}
