import { CloseCode } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import { readWavPcm16, speechFixtures } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import { createMemoryStore } from '../src/stores/memory-store.js';
import type { Store } from '../src/stores/store.js';
import { WsProbe } from './ws-probe.js';

const PCM16_16K = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;

let server: RunningServer;
let store: Store;
let wsUrl: string;
const provider = createLocalProvider({ maxConcurrentStreams: 2 });

beforeAll(async () => {
  store = createMemoryStore();
  server = await listen({ provider, store, port: 0 });
  wsUrl = `${server.url.replace('http', 'ws')}/v1/listen`;
});

afterAll(async () => {
  await server.close();
  await provider.close?.();
});

async function started(): Promise<WsProbe> {
  const probe = await WsProbe.open(wsUrl);
  probe.sendJson({ type: 'start', audio: PCM16_16K });
  await probe.next('ready');
  return probe;
}

async function stopped(probe: WsProbe) {
  const before = probe.messages.length;
  probe.sendJson({ type: 'stop' });
  const closed = await probe.next('closed', before);
  return { closed, close: await probe.waitClosed() };
}

describe('canonical transport: bad input gets a typed error and the session goes on', () => {
  it('answers malformed JSON with invalid_json, then still starts', async () => {
    const probe = await WsProbe.open(wsUrl);
    probe.sendText('{"type": "start", ');
    expect(await probe.next('error')).toMatchObject({ code: 'invalid_json', fatal: false });
    probe.sendJson({ type: 'start', audio: PCM16_16K });
    expect(await probe.next('ready')).toMatchObject({ protocolVersion: 'v1', provider: 'local' });
    await stopped(probe);
  });

  it('answers an unknown message type with unknown_message_type', async () => {
    const probe = await started();
    probe.sendJson({ type: 'transcribe_faster' });
    expect(await probe.next('error')).toMatchObject({ code: 'unknown_message_type', fatal: false });
    probe.sendJson({ type: 'ping', id: 7 });
    expect(await probe.next('pong')).toMatchObject({ id: 7 });
    await stopped(probe);
  });

  it('answers a known message with wrong fields with invalid_message', async () => {
    const probe = await WsProbe.open(wsUrl);
    probe.sendJson({ type: 'start', audio: { encoding: 'pcm16', sampleRate: 0 } });
    const error = await probe.next('error');
    expect(error).toMatchObject({ code: 'invalid_message', fatal: false });
    expect(error.message).toContain('audio.sampleRate');
    probe.close();
  });

  it('answers audio before start with not_started', async () => {
    const probe = await WsProbe.open(wsUrl);
    probe.sendBinary(new Uint8Array(3200));
    expect(await probe.next('error')).toMatchObject({ code: 'not_started', fatal: false });
    probe.sendJson({ type: 'start', audio: PCM16_16K });
    await probe.next('ready');
    await stopped(probe);
  });

  it('converts an encoding the provider does not take itself, and says how in ready', async () => {
    const probe = await WsProbe.open(wsUrl);
    probe.sendJson({ type: 'start', audio: { encoding: 'mulaw', sampleRate: 8000, channels: 1 } });
    expect(await probe.next('ready')).toMatchObject({
      audio: { encoding: 'mulaw', sampleRate: 8000, channels: 1 },
      providerAudio: PCM16_16K,
      conversion: 'mulaw→pcm16, resample 8000→16000',
    });
    await stopped(probe);
  });

  it('answers a second start with already_started and keeps the first session', async () => {
    const probe = await started();
    const ready = probe.of('ready')[0];
    probe.sendJson({ type: 'start', audio: PCM16_16K });
    expect(await probe.next('error')).toMatchObject({ code: 'already_started', fatal: false });
    probe.sendJson({ type: 'session_info' });
    expect(await probe.next('session_info')).toMatchObject({
      sessionId: ready?.sessionId,
      status: 'active',
    });
    const { closed, close } = await stopped(probe);
    expect(closed.reason).toBe('stopped');
    expect(close.code).toBe(CloseCode.Normal);
  });

  it('refuses a session over the local engine limit with capacity and close 1013, leaving the others untouched', async () => {
    const first = await started();
    const second = await started();
    const third = await WsProbe.open(wsUrl);
    third.sendJson({ type: 'start', audio: PCM16_16K });
    expect(await third.next('error')).toMatchObject({ code: 'capacity', fatal: true });
    expect((await third.waitClosed()).code).toBe(CloseCode.TryAgainLater);
    first.sendJson({ type: 'ping' });
    await first.next('pong');
    await stopped(first);
    await stopped(second);
  });
});

describe('canonical transport: finals are stored before they are sent', () => {
  it('keeps every final sent to the client, also when bad input arrives mid-stream', async () => {
    const [fixture] = await speechFixtures();
    const { pcm } = await readWavPcm16(fixture!.path);
    const probe = await started();
    const sessionId = probe.of('ready')[0]!.sessionId;
    const half = Math.floor(pcm.length / 4) * 2;
    for (let at = 0; at < half; at += 3200)
      probe.sendBinary(pcm.subarray(at, Math.min(at + 3200, half)));
    probe.sendText('not json at all');
    probe.sendJson({ type: 'start', audio: PCM16_16K });
    for (let at = half; at < pcm.length; at += 3200)
      probe.sendBinary(pcm.subarray(at, Math.min(at + 3200, pcm.length)));
    const { closed } = await stopped(probe);

    const finals = probe.of('transcript').filter((t) => t.isFinal);
    expect(finals.length).toBeGreaterThan(0);
    expect(probe.of('error').map((e) => e.code)).toEqual(['invalid_json', 'already_started']);
    const stored = await store.getSegments(sessionId);
    expect(stored.map((s) => s.text)).toEqual(finals.map((f) => f.text));
    expect(closed.summary.finalSegments).toBe(finals.length);
    expect(probe.of('ack').length).toBeGreaterThan(0);
    const record = await store.getSession(sessionId);
    expect(record).toMatchObject({ status: 'ended', endReason: 'stopped', provider: 'local' });
  });
});

describe('REST routes', () => {
  const http = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);

  it('reports health', async () => {
    const res = await http('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', provider: 'local', store: 'memory' });
  });

  it('mints a session with a token that connects once, lists it live, ends it and shows its record', async () => {
    const created = await http('/v1/sessions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { userId: 'u-1' } }),
    });
    expect(created.status).toBe(201);
    const { sessionId, token, expiresAt, url } = (await created.json()) as Record<string, string>;
    expect(Date.parse(expiresAt!)).toBeGreaterThan(Date.now());
    expect(url).toContain('/v1/listen?token=');

    const probe = await WsProbe.open(`${wsUrl}?token=${encodeURIComponent(token!)}`);
    probe.sendJson({ type: 'start', audio: PCM16_16K });
    expect(await probe.next('ready')).toMatchObject({ sessionId });
    expect(await WsProbe.refusal(`${wsUrl}?token=${encodeURIComponent(token!)}`)).toBe(401);

    const live = (await (await http('/v1/sessions')).json()) as {
      sessions: { id: string; live: { sessionId: string } | null }[];
    };
    expect(live.sessions.find((s) => s.id === sessionId)?.live).toMatchObject({ sessionId });

    const ended = await http(`/v1/sessions/${sessionId}/end`, { method: 'POST' });
    expect(ended.status).toBe(200);
    expect(await probe.next('closed')).toMatchObject({ reason: 'ended' });
    expect((await probe.waitClosed()).code).toBe(CloseCode.SessionEnded);

    const detail = (await (await http(`/v1/sessions/${sessionId}`)).json()) as {
      session: Record<string, unknown>;
    };
    expect(detail.session).toMatchObject({
      id: sessionId,
      status: 'ended',
      metadata: { userId: 'u-1' },
    });
    expect((await http(`/v1/sessions/${sessionId}/end`, { method: 'POST' })).status).toBe(409);
  });

  it('refuses a forged token with 401 before any socket is accepted', async () => {
    expect(await WsProbe.refusal(`${wsUrl}?token=bogus.token`)).toBe(401);
  });

  it('answers unknown sessions, bad bodies and wrong methods with JSON errors and stable codes', async () => {
    const missing = await http('/v1/sessions/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: { code: 'session_not_found', message: 'no session nope' },
    });
    const bad = await http('/v1/sessions', { method: 'POST', body: '{oops' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    const wrongShape = await http('/v1/sessions', {
      method: 'POST',
      body: JSON.stringify({ metadata: { a: { deep: 1 } } }),
    });
    expect(wrongShape.status).toBe(400);
    const method = await http('/v1/sessions', { method: 'DELETE' });
    expect(method.status).toBe(405);
    const unknown = await http('/v2/nothing');
    expect(unknown.status).toBe(404);
  });
});

describe('requireToken', () => {
  it('refuses an upgrade without a token with 401', async () => {
    const guarded = await listen({
      provider,
      store: createMemoryStore(),
      port: 0,
      requireToken: true,
    });
    try {
      expect(await WsProbe.refusal(`${guarded.url.replace('http', 'ws')}/v1/listen`)).toBe(401);
    } finally {
      await guarded.close();
    }
  });
});
