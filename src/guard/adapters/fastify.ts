import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Guard } from '../guard.js';
import type { GuardOptions } from '../options.js';
import { toGuard } from './common.js';

/** The part of a Fastify instance the plugin uses (Fastify's instance satisfies it). */
export interface FastifyLike {
  server: unknown;
  addHook(
    name: 'onRequest',
    hook: (request: { raw: IncomingMessage }, reply: FastifyReplyLike, done: (err?: Error) => void) => void,
  ): unknown;
  addHook(name: 'onClose', hook: (instance: unknown, done: () => void) => void): unknown;
}

/** The part of a Fastify reply the plugin uses. */
export interface FastifyReplyLike {
  raw: ServerResponse;
  code(status: number): FastifyReplyLike;
  headers(values: Record<string, string>): FastifyReplyLike;
  send(payload: string): unknown;
}

/** Options of {@link fastifyGuard}: a shared `guard`, or the options of a new one. */
export type FastifyGuardOptions = GuardOptions & { guard?: Guard };

/**
 * Fastify plugin (no `fastify-plugin` needed: it marks itself to skip encapsulation, so the hook
 * applies to every route). Sheds in `onRequest`, before parsing and handlers; attaches the
 * reaper to `fastify.server`; closes a guard it created when Fastify closes.
 *
 * ```ts
 * await app.register(fastifyGuard, { maxFdRatio: 0.9, maxEventLoopDelayMs: 500 });
 * ```
 */
export function fastifyGuard(fastify: FastifyLike, options: FastifyGuardOptions, done: (err?: Error) => void): void {
  const { guard: shared, ...guardOptions } = options ?? {};
  const { guard, owned } = toGuard(shared ?? guardOptions);
  const server = fastify.server as Server | undefined;
  const tracking = server !== undefined && typeof server.on === 'function';
  if (tracking) guard.attach(server, { requests: 'manual' });
  fastify.addHook('onRequest', (request, reply, next) => {
    const reason = guard.enter(request.raw, reply.raw);
    if (reason === undefined) {
      next();
      return;
    }
    const shed = guard.shedResponse(reason);
    // Sending from onRequest without calling next() ends the request here.
    reply.code(shed.status).headers(shed.headers).send(shed.body);
  });
  if (owned) {
    fastify.addHook('onClose', (_instance, closed) => {
      guard.close();
      closed();
    });
  }
  done();
}
// What fastify-plugin sets: register the hook on the parent instance, not an encapsulated child.
(fastifyGuard as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
(fastifyGuard as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')] = 'badgateway-guard';
