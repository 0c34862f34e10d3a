import type { IncomingMessage } from 'node:http';
import { createLocalProvider } from '@earshot/providers/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { listen, type RunningServer } from '../src/adapters/node.js';
import { REST_ROUTES } from '../src/rest/rest-routes.js';
import { ErrorResponseSchema } from '../src/rest/rest-schemas.js';
import { WsProbe } from './ws-probe.js';

// adminAuth guards every admin route (the observer WebSocket and /metrics too), never
// /healthz; without it the routes are open, as in development.
const API_KEY = 'admin-key-0123456789';
const provider = createLocalProvider({ maxConcurrentStreams: 1 });
let guarded: RunningServer;
let open: RunningServer;

beforeAll(async () => {
  guarded = await listen({ provider, port: 0, adminAuth: { apiKey: API_KEY } });
  open = await listen({ provider, port: 0, metrics: false });
});

afterAll(async () => {
  await guarded.close();
  await open.close();
  await provider.close();
});

/** Every admin route, as a request that would pass validation. */
const adminRequests = REST_ROUTES.filter((r) => r.admin).map((r) => ({
  name: `${r.method} ${r.path}`,
  path: r.path.replace('{id}', 'some-session'),
  method: r.method,
  body: r.operation === 'broadcast' ? '{"payload":1}' : r.method === 'POST' ? '{}' : undefined,
}));

async function errorOf(res: Response) {
  return ErrorResponseSchema.parse(await res.json()).error;
}

/** The status of an upgrade to `url`: 101 when accepted. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { headers });
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('open', () => {
      resolve(101);
      socket.close();
    });
    socket.once('error', () => {});
  });
}

describe('adminAuth: { apiKey }', () => {
  it('answers every admin route without credentials with 401 unauthorized', async () => {
    expect(adminRequests.map((r) => r.name)).toEqual([
      'POST /v1/sessions',
      'GET /v1/sessions',
      'GET /v1/sessions/{id}',
      'POST /v1/sessions/{id}/end',
      'GET /v1/sessions/{id}/events',
      'POST /v1/broadcast',
      'GET /metrics',
    ]);
    for (const request of adminRequests) {
      for (const headers of [
        {},
        { authorization: 'Bearer wrong-key' },
        { 'x-api-key': `${API_KEY}x` },
        { authorization: `Basic ${API_KEY}` },
      ] as Record<string, string>[]) {
        const res = await fetch(`${guarded.url}${request.path}`, {
          method: request.method,
          headers,
          body: request.body,
        });
        expect(res.status, `${request.name} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toContain('Bearer');
        expect(await errorOf(res)).toEqual({
          code: 'unauthorized',
          message: 'admin credentials required',
        });
      }
    }
  });

  it('lets the key in as a Bearer token or as x-api-key', async () => {
    for (const headers of [
      { authorization: `Bearer ${API_KEY}` },
      { 'x-api-key': API_KEY },
    ] as Record<string, string>[]) {
      const list = await fetch(`${guarded.url}/v1/sessions`, { headers });
      expect(list.status).toBe(200);
      const created = await fetch(`${guarded.url}/v1/sessions`, {
        method: 'POST',
        headers,
        body: '{}',
      });
      expect(created.status).toBe(201);
      const missing = await fetch(`${guarded.url}/v1/sessions/nope`, { headers });
      expect(missing.status).toBe(404);
      const metrics = await fetch(`${guarded.url}/metrics`, { headers });
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await metrics.text()).toContain('# TYPE ');
    }
  });

  it('guards the observer WebSocket at the upgrade', async () => {
    const ws = guarded.url.replace('http', 'ws');
    const client = await WsProbe.open(`${ws}/v1/listen`);
    const sessionId = guarded.earshot.sessions()[0]!.id;
    const observerUrl = `${ws}/v1/sessions/${sessionId}/events`;
    expect(await upgradeStatus(observerUrl)).toBe(401);
    expect(await upgradeStatus(observerUrl, { 'x-api-key': 'nope' })).toBe(401);
    expect(await upgradeStatus(`${ws}/v1/sessions/unknown/events`)).toBe(401);
    expect(await upgradeStatus(observerUrl, { authorization: `Bearer ${API_KEY}` })).toBe(101);
    client.close();
  });

  it('leaves /healthz and the listen WebSocket open', async () => {
    const health = await fetch(`${guarded.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', store: 'memory' });
    expect(await upgradeStatus(`${guarded.url.replace('http', 'ws')}/v1/listen`)).toBe(101);
  });
});

describe('adminAuth: a function of the request', () => {
  it('lets in whom the function accepts, and answers a function that throws with 500 internal', async () => {
    const failures: unknown[] = [];
    const server = await listen({
      provider,
      port: 0,
      logger: {
        debug: () => {},
        info: () => {},
        warn: () => {},
        error: (fields: unknown) => failures.push(fields),
      },
      adminAuth: async (req: IncomingMessage) => {
        if (req.headers['x-role'] === 'explode') throw new Error('auth backend down');
        return req.headers['x-role'] === 'admin';
      },
    });
    try {
      const as = (role: string) =>
        fetch(`${server.url}/v1/sessions`, { headers: { 'x-role': role } });
      expect((await as('admin')).status).toBe(200);
      expect((await as('viewer')).status).toBe(401);
      const broken = await as('explode');
      expect(broken.status).toBe(500);
      expect(await errorOf(broken)).toEqual({ code: 'internal', message: 'internal error' });
      expect(failures).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('matches nothing with an empty apiKey', async () => {
    const server = await listen({ provider, port: 0, adminAuth: { apiKey: '' } });
    try {
      for (const headers of [{}, { authorization: 'Bearer ' }, { 'x-api-key': '' }] as Record<
        string,
        string
      >[]) {
        expect((await fetch(`${server.url}/v1/sessions`, { headers })).status).toBe(401);
      }
    } finally {
      await server.close();
    }
  });
});

describe('without adminAuth', () => {
  it('leaves the admin routes open (for development); /metrics is 404 when metrics are off', async () => {
    expect((await fetch(`${open.url}/v1/sessions`)).status).toBe(200);
    expect(
      (await fetch(`${open.url}/v1/broadcast`, { method: 'POST', body: '{"payload":1}' })).status,
    ).toBe(200);
    const metrics = await fetch(`${open.url}/metrics`);
    expect(metrics.status).toBe(404);
    expect(await errorOf(metrics)).toEqual({
      code: 'not_found',
      message: 'this server has no metrics',
    });
  });
});
