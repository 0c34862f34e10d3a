import { CloseCode } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import { readWavPcm16, speechFixtures } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import {
  CreateSessionResponseSchema,
  EndSessionResponseSchema,
  ErrorResponseSchema,
  SessionDetailResponseSchema,
  type SessionListItem,
  SessionListResponseSchema,
} from '../src/rest/rest-schemas.js';
import { createMemoryStore } from '../src/stores/memory-store.js';
import { createSqliteStore } from '../src/stores/sqlite-store.js';
import type { Store } from '../src/stores/store.js';
import { WsProbe } from './ws-probe.js';

// The REST admin over real HTTP: sessions minted, listed (live and stored in one list), read,
// ended. Live sessions run on the local engine; stored ones are seeded in a real memory store.
const PCM16 = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;
const provider = createLocalProvider({ maxConcurrentStreams: 2 });
let server: RunningServer;
let store: Store;
let wsUrl: string;
let speech: Buffer;
const probes: WsProbe[] = [];

beforeAll(async () => {
  store = createMemoryStore();
  server = await listen({ provider, store, port: 0, nodeId: 'node-a' });
  wsUrl = `${server.url.replace('http', 'ws')}/v1/listen`;
  const [fixture] = await speechFixtures();
  speech = (await readWavPcm16(fixture!.path)).pcm;
});

afterAll(async () => {
  for (const probe of probes) probe.close();
  await server.close();
  await provider.close();
});

const http = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);
const post = (path: string, body?: unknown) =>
  http(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function json<T>(res: Response, schema: { parse(value: unknown): T }): Promise<T> {
  return schema.parse(await res.json());
}

async function errorOf(res: Response) {
  return (await json(res, ErrorResponseSchema)).error;
}

async function open(url: string): Promise<WsProbe> {
  const probe = await WsProbe.open(url);
  probes.push(probe);
  return probe;
}

/** A session minted over REST with `metadata`, and its token. */
async function mint(metadata: Record<string, string> = {}) {
  const res = await post('/v1/sessions', { metadata });
  expect(res.status).toBe(201);
  return json(res, CreateSessionResponseSchema);
}

async function started(metadata: Record<string, string> = {}) {
  const probe = await open(wsUrl);
  probe.sendJson({ type: 'start', audio: PCM16, metadata });
  const ready = await probe.next('ready');
  return { probe, sessionId: ready.sessionId };
}

function streamSpeech(probe: WsProbe): void {
  for (let at = 0; at < speech.length; at += 3200) {
    probe.sendBinary(speech.subarray(at, Math.min(at + 3200, speech.length)));
  }
}

async function listAll(query = ''): Promise<SessionListItem[]> {
  const res = await http(`/v1/sessions?limit=1000${query}`);
  expect(res.status).toBe(200);
  const page = await json(res, SessionListResponseSchema);
  expect(page.nextCursor).toBeUndefined();
  return page.sessions;
}

describe('POST /v1/sessions', () => {
  it('mints a session: its id, a signed token that connects once, the expiry and the WebSocket URL', async () => {
    const minted = await mint({ userId: 'u-mint' });
    expect(Date.parse(minted.expiresAt)).toBeGreaterThan(Date.now());
    expect(Date.parse(minted.expiresAt)).toBeLessThanOrEqual(Date.now() + 300_000);
    expect(minted.url).toBe(`${wsUrl}?token=${encodeURIComponent(minted.token)}`);
    expect(await store.getSession(minted.sessionId)).toMatchObject({
      status: 'created',
      metadata: { userId: 'u-mint' },
    });
    const probe = await open(minted.url);
    probe.sendJson({ type: 'start', audio: PCM16 });
    expect(await probe.next('ready')).toMatchObject({ sessionId: minted.sessionId });
    expect(await WsProbe.refusal(minted.url)).toBe(401);
    probe.sendJson({ type: 'stop' });
    await probe.waitClosed();
  });

  it('answers a body that is not an object of metadata with 400 naming the field', async () => {
    const deep = await post('/v1/sessions', { metadata: { a: { deep: 1 } } });
    expect(deep.status).toBe(400);
    expect(await errorOf(deep)).toMatchObject({ code: 'invalid_request' });
    const unknown = await post('/v1/sessions', { metadata: {}, owner: 'me' });
    expect((await errorOf(unknown)).message).toContain('owner');
    const notJson = await http('/v1/sessions', { method: 'POST', body: '{oops' });
    expect(notJson.status).toBe(400);
    expect((await errorOf(notJson)).message).toBe('request body is not valid JSON');
    const huge = await post('/v1/sessions', { metadata: { note: 'x'.repeat(70_000) } });
    expect(huge.status).toBe(400);
    expect((await errorOf(huge)).message).toContain('over 65536 bytes');
  });
});

describe('GET /v1/sessions: live and stored sessions in one list', () => {
  let ids: {
    stored: string[];
    mintedIdle: string;
    mintedConnected: string;
    liveOnly: string[];
    active: string;
  };

  beforeAll(async () => {
    // A fresh view: end what earlier tests left live.
    for (const probe of probes.splice(0)) probe.close();
    const stored = [1, 2, 3, 4, 5].map((n) => `stored-${n}`);
    for (const [i, id] of stored.entries()) {
      await store.createSession({
        id,
        status: 'ended',
        createdAt: `2020-01-01T00:00:0${i + 1}.000Z`,
        endedAt: `2020-01-01T00:01:0${i + 1}.000Z`,
        metadata: { userId: i % 2 === 0 ? 'u-a' : 'u-b' },
        endReason: 'stopped',
      });
    }
    const mintedIdle = (await mint({ userId: 'u-a' })).sessionId;
    const connected = await mint({ userId: 'u-b' });
    await open(connected.url);
    const before = new Set(server.earshot.sessions().map((s) => s.id));
    await open(wsUrl);
    await open(wsUrl);
    const liveOnly = server.earshot
      .sessions()
      .map((s) => s.id)
      .filter((id) => !before.has(id) && id !== connected.sessionId);
    const active = (await started({ userId: 'u-c' })).sessionId;
    ids = { stored, mintedIdle, mintedConnected: connected.sessionId, liveOnly, active };
  });

  it('lists every session once, newest first, live ones with their figures and node', async () => {
    const all = await listAll();
    const listed = all.map((s) => s.id);
    expect(new Set(listed).size).toBe(listed.length);
    for (const id of [
      ...ids.stored,
      ids.mintedIdle,
      ids.mintedConnected,
      ...ids.liveOnly,
      ids.active,
    ]) {
      expect(listed).toContain(id);
    }
    const order = all.map((s) => `${s.createdAt} ${s.id}`);
    expect(order).toEqual([...order].sort().reverse());

    const byId = new Map(all.map((s) => [s.id, s]));
    expect(byId.get(ids.active)).toMatchObject({
      status: 'active',
      stored: true,
      metadata: { userId: 'u-c' },
      live: { sessionId: ids.active, node: 'node-a', status: 'active', provider: 'local' },
    });
    expect(byId.get(ids.active)?.metrics).toMatchObject({ chunksReceived: 0 });
    expect(byId.get(ids.mintedConnected)).toMatchObject({
      status: 'created',
      stored: true,
      live: { node: 'node-a', metadata: { userId: 'u-b' } },
    });
    for (const id of ids.liveOnly) {
      expect(byId.get(id)).toMatchObject({
        status: 'created',
        stored: false,
        live: { node: 'node-a' },
      });
    }
    expect(byId.get(ids.mintedIdle)).toMatchObject({ status: 'created', stored: true, live: null });
    expect(byId.get('stored-3')).toMatchObject({
      status: 'ended',
      endReason: 'stopped',
      live: null,
    });
  });

  it('pages through live and stored sessions with a cursor, each once, also when sessions are created between pages', async () => {
    const all = (await listAll()).map((s) => s.id);
    const paged: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await http(
        `/v1/sessions?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(res.status).toBe(200);
      const page = await json(res, SessionListResponseSchema);
      expect(page.sessions.length).toBeLessThanOrEqual(2);
      paged.push(...page.sessions.map((s) => s.id));
      cursor = page.nextCursor;
      // Newer than every page read so far: it belongs to none of the pages still to come.
      if (++pages === 1) await mint({ userId: 'u-late' });
    } while (cursor !== undefined);
    expect(paged).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 2));
  });

  it('filters by status across live and stored sessions', async () => {
    const created = (await listAll('&status=created')).map((s) => s.id);
    expect(created).toEqual(
      expect.arrayContaining([ids.mintedIdle, ids.mintedConnected, ...ids.liveOnly]),
    );
    expect(created).not.toContain(ids.active);
    expect((await listAll('&status=active')).map((s) => s.id)).toEqual([ids.active]);
    expect((await listAll('&status=ended')).map((s) => s.id)).toEqual(
      expect.arrayContaining(ids.stored),
    );
    expect((await listAll('&status=failed')).map((s) => s.id)).toEqual([]);
  });

  it("filters by user: a user's stored and live sessions", async () => {
    expect((await listAll('&userId=u-a')).map((s) => s.id)).toEqual([
      ids.mintedIdle,
      'stored-5',
      'stored-3',
      'stored-1',
    ]);
    expect((await listAll('&userId=u-b')).map((s) => s.id)).toEqual([
      ids.mintedConnected,
      'stored-4',
      'stored-2',
    ]);
    expect((await listAll('&userId=u-c')).map((s) => s.id)).toEqual([ids.active]);
    expect(await listAll('&userId=u-b&status=ended')).toHaveLength(2);
    expect(await listAll('&userId=nobody')).toEqual([]);
  });

  it('answers a bad query with 400 naming the parameter', async () => {
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=ten', 'limit'],
      ['status=sleeping', 'status'],
      ['user=u-a', 'user'],
      ['cursor=bm90LWEtY3Vyc29y', 'cursor'],
    ] as const) {
      const res = await http(`/v1/sessions?${query}`);
      expect(res.status, query).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe('invalid_request');
      expect(error.message, query).toContain(field);
    }
  });
});

describe('GET /v1/sessions/:id and POST /v1/sessions/:id/end', () => {
  it('reads a live session (live figures) and, once ended over REST, its stored transcript, events and metrics', async () => {
    const { probe, sessionId } = await started({ userId: 'u-read' });
    streamSpeech(probe);
    await probe.next('ack');
    const broadcast = await post('/v1/broadcast', { sessionId, payload: { note: 'hello' } });
    expect(broadcast.status).toBe(200);
    await probe.next('broadcast');

    const live = await json(await http(`/v1/sessions/${sessionId}`), SessionDetailResponseSchema);
    expect(live.live).toMatchObject({ sessionId, status: 'active', node: 'node-a' });
    expect(live.session).toMatchObject({ id: sessionId, status: 'active' });
    expect(live.metrics?.chunksReceived).toBeGreaterThan(0);

    const ended = await post(`/v1/sessions/${sessionId}/end`);
    expect(ended.status).toBe(200);
    const answer = await json(ended, EndSessionResponseSchema);
    expect(answer).toMatchObject({
      sessionId,
      status: 'ended',
      final: { sessionId, node: 'node-a' },
    });
    expect(await probe.next('closed')).toMatchObject({ reason: 'ended' });
    expect((await probe.waitClosed()).code).toBe(CloseCode.SessionEnded);

    const finals = probe.of('transcript').filter((t) => t.isFinal);
    expect(finals.length).toBeGreaterThan(0);
    const detail = await json(await http(`/v1/sessions/${sessionId}`), SessionDetailResponseSchema);
    expect(detail.live).toBeNull();
    expect(detail.session).toMatchObject({ status: 'ended', endReason: 'ended' });
    expect(detail.transcript).toBe(finals.map((f) => f.text).join(' '));
    expect(detail.segments.map((s) => s.segmentId)).toEqual(finals.map((f) => f.segmentId));
    expect(detail.events).toEqual([
      expect.objectContaining({ type: 'broadcast', data: { payload: { note: 'hello' } } }),
    ]);
    expect(detail.metrics).toEqual(detail.session?.metrics);
    expect(detail.metrics?.finalSegments).toBe(finals.length);

    const again = await post(`/v1/sessions/${sessionId}/end`);
    expect(again.status).toBe(409);
    expect(await errorOf(again)).toMatchObject({ code: 'session_ended' });
  });

  it('reads a connected session the store does not hold yet from its live view', async () => {
    const before = new Set(server.earshot.sessions().map((s) => s.id));
    const probe = await open(wsUrl);
    const id = server.earshot.sessions().find((s) => !before.has(s.id))!.id;
    const detail = await json(await http(`/v1/sessions/${id}`), SessionDetailResponseSchema);
    expect(detail).toMatchObject({
      session: null,
      live: { sessionId: id, status: 'created' },
      transcript: '',
      segments: [],
      events: [],
    });
    probe.close();
  });

  it('ends a session minted over REST that never connected, and its token no longer connects', async () => {
    const minted = await mint();
    const res = await post(`/v1/sessions/${minted.sessionId}/end`);
    expect(await json(res, EndSessionResponseSchema)).toEqual({
      sessionId: minted.sessionId,
      status: 'ended',
      final: null,
    });
    expect(await store.getSession(minted.sessionId)).toMatchObject({
      status: 'ended',
      endReason: 'ended',
    });
    expect(await WsProbe.refusal(minted.url)).toBe(401);
    expect((await post(`/v1/sessions/${minted.sessionId}/end`)).status).toBe(409);
  });

  it('ends a session that connected with its token but never started, and its token cannot connect again', async () => {
    const minted = await mint();
    const probe = await open(minted.url);
    const res = await post(`/v1/sessions/${minted.sessionId}/end`);
    expect(await json(res, EndSessionResponseSchema)).toMatchObject({
      status: 'ended',
      final: { sessionId: minted.sessionId, status: 'ended' },
    });
    expect((await probe.waitClosed()).code).toBe(CloseCode.SessionEnded);
    expect(await store.getSession(minted.sessionId)).toMatchObject({ status: 'ended' });
    expect(await WsProbe.refusal(minted.url)).toBe(401);
  });

  it('answers unknown sessions with 404, wrong methods with 405 and Allow, a malformed id with 400', async () => {
    const missing = await http('/v1/sessions/nope');
    expect(missing.status).toBe(404);
    expect(await errorOf(missing)).toEqual({
      code: 'session_not_found',
      message: 'no session nope',
    });
    const endMissing = await post('/v1/sessions/nope/end');
    expect(endMissing.status).toBe(404);

    const method = await http('/v1/sessions/nope', { method: 'DELETE' });
    expect(method.status).toBe(405);
    expect(method.headers.get('allow')).toBe('GET');
    expect(await errorOf(method)).toMatchObject({ code: 'invalid_request' });
    const endByGet = await http('/v1/sessions/nope/end');
    expect(endByGet.status).toBe(405);
    expect(endByGet.headers.get('allow')).toBe('POST');
    const list = await http('/v1/sessions', { method: 'PUT' });
    expect(list.headers.get('allow')).toBe('POST, GET');

    const malformed = await http('/v1/sessions/%E0%A4%A');
    expect(malformed.status).toBe(400);
    expect(await errorOf(malformed)).toMatchObject({ code: 'invalid_request' });
    const tooLong = await http(`/v1/sessions/${'x'.repeat(300)}`);
    expect(tooLong.status).toBe(400);
  });

  it('leaves paths that are not its own to the host app', async () => {
    expect((await http('/v1/sessions/a/b/c')).status).toBe(404);
    expect(await errorOf(await http('/v2/sessions'))).toMatchObject({ code: 'not_found' });
  });

  it('answers a plain GET of the observer route with 426', async () => {
    const res = await http('/v1/sessions/nope/events');
    expect(res.status).toBe(426);
    expect(res.headers.get('upgrade')).toBe('websocket');
    expect(await errorOf(res)).toMatchObject({ code: 'invalid_request' });
  });
});

describe('a store that fails', () => {
  it('answers 503 store_error on every route that needs it, and the server goes on', async () => {
    const broken = await createSqliteStore({ path: ':memory:' });
    const other = await listen({ provider, store: broken, port: 0 });
    try {
      await broken.close();
      const at = (path: string, init?: RequestInit) => fetch(`${other.url}${path}`, init);
      for (const res of [
        await at('/v1/sessions'),
        await at('/v1/sessions/some-id'),
        await at('/v1/sessions/some-id/end', { method: 'POST' }),
        await at('/v1/sessions', { method: 'POST', body: '{}' }),
      ]) {
        expect(res.status).toBe(503);
        expect(await errorOf(res)).toMatchObject({ code: 'store_error' });
      }
      expect((await at('/healthz')).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});
