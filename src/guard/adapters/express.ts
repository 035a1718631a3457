import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Guard } from '../guard.js';
import { toGuard, type GuardOrOptions } from './common.js';

/** Express (4 and 5) middleware: `(req, res, next)`; its `guard` is the one it checks against. */
export interface ExpressGuardMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
  guard: Guard;
}

/**
 * Express middleware: sheds with 503 before any later middleware runs. Mount it first. For the
 * idle-socket reaper also call `guard.attach(server)` on the server `app.listen()` returns.
 *
 * ```ts
 * const guard = createGuard();
 * app.use(expressGuard(guard));
 * guard.attach(app.listen(3000));
 * ```
 */
export function expressGuard(guardOrOptions?: GuardOrOptions): ExpressGuardMiddleware {
  const { guard } = toGuard(guardOrOptions);
  const middleware = ((req, res, next) => {
    if (guard.handle(req, res)) return;
    next();
  }) as ExpressGuardMiddleware;
  middleware.guard = guard;
  return middleware;
}
