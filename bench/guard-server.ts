/**
 * One server variant for bench/guard.ts, run as a child process: `node guard-server.js VARIANT`.
 * Opens 1,000 fds first (the benchmark's condition), answers `GET /` with a short body, prints
 * `listening on PORT`.
 */
import { openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import underPressure from '@fastify/under-pressure';
import { createGuard } from '../src/guard/index.js';

export const VARIANTS = [
  'bare',
  'guarded',
  'seed-scan',
  'fastify',
  'fastify-empty-hook',
  'fastify-under-pressure',
  'fastify-guarded',
] as const;
export type Variant = (typeof VARIANTS)[number];

const variant = process.argv[2] as Variant | undefined;
if (variant === undefined) process.exit(0); // not a script to run on its own

const EXTRA_FDS = 1000;
for (let i = 0; i < EXTRA_FDS; i++) openSync('/dev/null', 'r');

const BODY = 'hello world\n';
const hello: RequestListener = (_req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(BODY);
};

/** The seed's middleware, in Node: count /proc/self/fd on every request, 503 at 95%. */
function seedScan(): RequestListener {
  const soft = Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))![1]);
  return (req, res) => {
    const open = readdirSync('/proc/self/fd').length;
    if (open / soft >= 0.95) {
      res.writeHead(503, { 'retry-after': '5', connection: 'close' });
      res.end();
      return;
    }
    hello(req, res);
  };
}

/** Every rule on, with limits the benchmark never reaches: the cost of checking, not of shedding. */
const ALL_RULES = {
  maxFdRatio: 0.9,
  maxConcurrency: 100_000,
  maxEventLoopDelayMs: 1000,
  maxHeapUsedRatio: 0.95,
  reapFdRatio: 0.8,
  // BENCH_GUARD_OPTIONS='{"maxEventLoopDelayMs":0}': to find what a rule costs.
  ...(JSON.parse(process.env.BENCH_GUARD_OPTIONS ?? '{}') as object),
};

async function start(): Promise<number> {
  switch (variant) {
    case 'bare':
    case 'guarded':
    case 'seed-scan': {
      const server = createServer(variant === 'seed-scan' ? seedScan() : hello);
      if (variant === 'guarded') createGuard(ALL_RULES).protect(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    }
    case 'fastify':
    case 'fastify-empty-hook':
    case 'fastify-under-pressure':
    case 'fastify-guarded': {
      const app = Fastify();
      // What any onRequest hook costs in Fastify, guard or not: the fair peer for the plugins.
      if (variant === 'fastify-empty-hook') app.addHook('onRequest', (_req, _reply, done) => done());
      if (variant === 'fastify-under-pressure') {
        await app.register(underPressure, {
          maxEventLoopDelay: 1000,
          maxHeapUsedBytes: 4 * 1024 ** 3,
          maxRssBytes: 8 * 1024 ** 3,
          maxEventLoopUtilization: 0.999,
        });
      }
      if (variant === 'fastify-guarded') {
        const { fastifyGuard } = await import('../src/guard/index.js');
        await app.register(fastifyGuard, ALL_RULES);
      }
      app.get('/', async (_req, reply) => reply.type('text/plain').send(BODY));
      await app.listen({ port: 0, host: '127.0.0.1' });
      return (app.server.address() as AddressInfo).port;
    }
    default:
      throw new Error(`unknown variant ${String(variant)}`);
  }
}

const port = await start();
process.stdout.write(`listening on ${port}\n`);
process.on('SIGTERM', () => process.exit(0));
