import { createLocalProvider } from '@earshot/providers/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import {
  BroadcastResponseSchema,
  CreateSessionResponseSchema,
  ErrorResponseSchema,
} from '../src/rest/rest-schemas.js';
import { WsProbe } from './ws-probe.js';

// POST /v1/broadcast to every live session, to one, or to one user's (seed 001's
// announcement). The sessions are connected with tokens minted for their user; a broadcast
// reaches a session whether or not it has started streaming.
const provider = createLocalProvider({ maxConcurrentStreams: 1 });
let server: RunningServer;
const probes: WsProbe[] = [];

beforeAll(async () => {
  server = await listen({ provider, port: 0 });
});

afterAll(async () => {
  for (const probe of probes) probe.close();
  await server.close();
  await provider.close();
});

const broadcast = (body: unknown) =>
  fetch(`${server.url}/v1/broadcast`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

async function delivered(body: unknown): Promise<number> {
  const res = await broadcast(body);
  expect(res.status).toBe(200);
  return BroadcastResponseSchema.parse(await res.json()).delivered;
}

/** A client connected to a session minted for `userId`. */
async function clientOf(userId: string) {
  const res = await fetch(`${server.url}/v1/sessions`, {
    method: 'POST',
    body: JSON.stringify({ metadata: { userId } }),
  });
  const { sessionId, url } = CreateSessionResponseSchema.parse(await res.json());
  const probe = await WsProbe.open(url);
  probes.push(probe);
  return { probe, sessionId };
}

/** The payloads of the broadcasts `probe` has received. */
const payloads = (probe: WsProbe) => probe.of('broadcast').map((m) => m.payload);

describe('POST /v1/broadcast', () => {
  let alice1: Awaited<ReturnType<typeof clientOf>>;
  let alice2: Awaited<ReturnType<typeof clientOf>>;
  let bob: Awaited<ReturnType<typeof clientOf>>;

  beforeAll(async () => {
    alice1 = await clientOf('alice');
    alice2 = await clientOf('alice');
    bob = await clientOf('bob');
  });

  it("reaches only that user's sessions when given a userId", async () => {
    expect(await delivered({ userId: 'alice', payload: { text: 'for alice' } })).toBe(2);
    await alice1.probe.next('broadcast');
    await alice2.probe.next('broadcast');
    // A broadcast to everyone after it: bob's first broadcast must be that one.
    expect(await delivered({ payload: 'for everyone' })).toBe(3);
    await bob.probe.next('broadcast');
    // Messages keep their order on a socket: had bob got alice's, it would have come first.
    expect(payloads(bob.probe)).toEqual(['for everyone']);
    expect(payloads(alice1.probe)[0]).toEqual({ text: 'for alice' });
    expect(payloads(alice2.probe)[0]).toEqual({ text: 'for alice' });
  });

  it('reaches one session when given a sessionId, and no other', async () => {
    const before = payloads(alice1.probe).length;
    const at2 = alice2.probe.messages.length;
    expect(await delivered({ sessionId: alice2.sessionId, payload: [1, 2, 3] })).toBe(1);
    expect((await alice2.probe.next('broadcast', at2)).payload).toEqual([1, 2, 3]);
    const at1 = alice1.probe.messages.length;
    expect(await delivered({ sessionId: alice1.sessionId, payload: 'marker' })).toBe(1);
    await alice1.probe.next('broadcast', at1);
    expect(payloads(alice1.probe).slice(before)).toEqual(['marker']);
  });

  it('delivers to nobody for a user with no live session', async () => {
    expect(await delivered({ userId: 'carol', payload: null })).toBe(0);
  });

  it('answers 404 for a sessionId that is not live', async () => {
    const res = await broadcast({ sessionId: 'gone', payload: 'x' });
    expect(res.status).toBe(404);
    expect(ErrorResponseSchema.parse(await res.json()).error).toEqual({
      code: 'session_not_found',
      message: 'no live session gone',
    });
  });

  it('answers a bad body with 400 naming the field, and delivers nothing', async () => {
    const before = payloads(bob.probe).length;
    for (const [body, words] of [
      [{ sessionId: bob.sessionId, userId: 'bob', payload: 1 }, 'not both'],
      [{ userId: 'bob' }, 'payload: Required'],
      [{ userId: 7, payload: 1 }, 'userId'],
      [{ userId: '', payload: 1 }, 'userId'],
      [{ payload: 1, to: 'bob' }, 'to'],
      [[1, 2], 'expected object'],
      ['{"payload": ', 'not valid JSON'],
    ] as const) {
      const res = await broadcast(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const { error } = ErrorResponseSchema.parse(await res.json());
      expect(error.code).toBe('invalid_request');
      expect(error.message, JSON.stringify(body)).toContain(words);
    }
    const at = bob.probe.messages.length;
    expect(await delivered({ sessionId: bob.sessionId, payload: 'after' })).toBe(1);
    await bob.probe.next('broadcast', at);
    expect(payloads(bob.probe).slice(before)).toEqual(['after']);
  });

  it('answers other methods with 405 and Allow: POST', async () => {
    const res = await fetch(`${server.url}/v1/broadcast`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});
