/** Each adapter with the real framework on a real socket: one request shed, one passed through. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { once } from 'node:events';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { createGuard, expressGuard, fastifyGuard, honoGuard, koaGuard, type Guard } from '../../src/guard/index.js';
import { get } from './helpers.js';

/** A promise the test resolves: keeps one request in flight. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

const urlOf = (server: Server): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/**
 * With maxConcurrency 1 and one request held in /slow, the next request is shed with the
 * guard's 503; once /slow is answered, requests pass through to the app.
 */
async function shedAndPass(url: string, guard: Guard, g: { open: () => void }): Promise<void> {
  const slow = get(`${url}/slow`);
  for (let i = 0; i < 100 && guard.metrics().inflight < 1; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(guard.metrics().inflight, 1);
  const shed = await get(url);
  assert.equal(shed.status, 503);
  assert.equal(shed.headers!['retry-after'], '5');
  assert.equal(shed.headers!.connection, 'close');
  assert.equal(shed.body, 'Service Unavailable (overloaded: concurrency)\n');
  g.open();
  assert.equal((await slow).status, 200);
  const pass = await get(url);
  assert.equal(pass.status, 200);
  assert.equal(pass.body, 'hello');
  assert.equal(guard.metrics().shedTotal.concurrency, 1);
  assert.equal(guard.metrics().inflight, 0);
}

test('express: shed and pass through', { timeout: 10_000 }, async () => {
  const guard = createGuard({ maxConcurrency: 1 });
  const g = gate();
  const app = express();
  app.use(expressGuard(guard));
  app.get('/slow', async (_req, res) => {
    await g.wait;
    res.send('slow');
  });
  app.get('/', (_req, res) => {
    res.send('hello');
  });
  // attach returns the server: the one-liner the docs show.
  const server = guard.attach(app.listen(0, '127.0.0.1'));
  await once(server, 'listening');
  try {
    await shedAndPass(urlOf(server), guard, g);
  } finally {
    server.close();
    guard.close();
  }
});

test('fastify plugin: shed and pass through, guard closed with fastify', { timeout: 10_000 }, async () => {
  const guard = createGuard({ maxConcurrency: 1 });
  const g = gate();
  const app = Fastify();
  await app.register(fastifyGuard, { guard });
  app.get('/slow', async () => {
    await g.wait;
    return 'slow';
  });
  app.get('/', async () => 'hello');
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    await shedAndPass(urlOf(app.server), guard, g);
  } finally {
    await app.close();
    guard.close();
  }
});

test('fastify plugin with options creates and owns its guard', { timeout: 10_000 }, async () => {
  const app = Fastify();
  await app.register(fastifyGuard, { maxConcurrency: 5, retryAfterS: 2 });
  app.get('/', async () => 'hello');
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const r = await get(urlOf(app.server));
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello');
  } finally {
    await app.close();
  }
});

test('koa: shed and pass through', { timeout: 10_000 }, async () => {
  const guard = createGuard({ maxConcurrency: 1 });
  const g = gate();
  const app = new Koa();
  app.use(koaGuard(guard));
  app.use(async (ctx) => {
    if (ctx.path === '/slow') await g.wait;
    ctx.body = ctx.path === '/slow' ? 'slow' : 'hello';
  });
  const server = app.listen(0, '127.0.0.1');
  guard.attach(server);
  await once(server, 'listening');
  try {
    await shedAndPass(urlOf(server), guard, g);
  } finally {
    server.close();
    guard.close();
  }
});

test('hono on @hono/node-server: shed and pass through', { timeout: 10_000 }, async () => {
  const guard = createGuard({ maxConcurrency: 1 });
  const g = gate();
  const app = new Hono();
  app.use(honoGuard(guard));
  app.get('/slow', async (c) => {
    await g.wait;
    return c.text('slow');
  });
  app.get('/', (c) => c.text('hello'));
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  guard.attach(server);
  await once(server, 'listening');
  try {
    await shedAndPass(urlOf(server), guard, g);
  } finally {
    server.close();
    guard.close();
  }
});

test('hono without node bindings (app.request): shed and pass through, released when next() settles', {
  timeout: 10_000,
}, async () => {
  const guard = createGuard({ maxConcurrency: 1 });
  const g = gate();
  const app = new Hono();
  app.use(honoGuard(guard));
  app.get('/slow', async (c) => {
    await g.wait;
    return c.text('slow');
  });
  app.get('/', (c) => c.text('hello'));
  try {
    const slow = app.request('/slow');
    await new Promise((r) => setTimeout(r, 10));
    const shed = await app.request('/');
    assert.equal(shed.status, 503);
    assert.equal(shed.headers.get('retry-after'), '5');
    g.open();
    assert.equal((await slow).status, 200);
    const pass = await app.request('/');
    assert.equal(await pass.text(), 'hello');
    assert.equal(guard.metrics().inflight, 0);
  } finally {
    guard.close();
  }
});
