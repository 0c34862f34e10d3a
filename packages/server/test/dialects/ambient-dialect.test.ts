import { createDeepgramProvider } from '@earshot/providers/deepgram';
import {
  type DeepgramEmulator,
  JsonSocket,
  openJsonSocket,
  scriptedTranscriber,
  startDeepgramEmulator,
} from '@earshot/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../../src/adapters/node.js';
import {
  type AmbientDialectOptions,
  ambientDialect,
  ambientOptionsFromEnv,
  createMemoryStore,
} from '../../src/index.js';

// Seed 001's frontend (AmbientAI) against the ambient dialect; the words are scripted by the
// Deepgram emulator. Its REST paths, its control messages, its limits.
const SCRIPT = [
  { text: 'the patient reports chest pain since monday', start: 0.2, end: 2.0 },
  { text: 'no shortness of breath', start: 3.0, end: 3.8 },
];
let emulator: DeepgramEmulator;
const servers: RunningServer[] = [];

beforeAll(async () => {
  emulator = await startDeepgramEmulator({ transcriber: scriptedTranscriber(SCRIPT) });
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await emulator.close();
});

async function serve(options: AmbientDialectOptions = {}, adminKey?: string) {
  const server = await listen({
    provider: createDeepgramProvider({ apiKey: emulator.apiKey, baseUrl: emulator.endpoint }),
    store: createMemoryStore(),
    port: 0,
    dialects: [ambientDialect(options)],
    ...(adminKey ? { adminAuth: { apiKey: adminKey } } : {}),
  });
  servers.push(server);
  const ws = server.url.replace('http', 'ws');
  return {
    server,
    socket: (path = '/ws/transcribe') => openJsonSocket(`${ws}${path}`),
    refusal: (path: string) => JsonSocket.refusal(`${ws}${path}`),
    rest: (path: string, init?: RequestInit) =>
      fetch(`${server.url}/api/v1/websocket${path}`, init),
  };
}

/** Streams `seconds` of PCM16 16 kHz in the seed's 8192-sample frames, faster than real time. */
async function stream(socket: JsonSocket, seconds: number) {
  const frame = new Uint8Array(16384).fill(1);
  for (let sent = 0; sent < seconds * 32000; sent += frame.byteLength) {
    socket.sendBinary(frame);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the ambient dialect (seed 001)', () => {
  it('connected with config, a transcript per final, ping, session_info, end_session', async () => {
    const { socket } = await serve({ sampleRate: 16000, heartbeatIntervalSeconds: 30 });
    const ambient = await socket();
    const connected = await ambient.next('connected');
    expect(connected).toMatchObject({
      session_id: expect.any(String),
      config: {
        sample_rate: 16000,
        channels: 1,
        max_session_duration: 7200,
        heartbeat_interval: 30,
      },
    });
    await stream(ambient, 4.5);
    ambient.sendJson({ type: 'ping' });
    ambient.sendJson({ type: 'session_info' });
    await ambient.next('pong');
    const info = await ambient.next('session_info');
    expect(info).toMatchObject({ session_id: connected.session_id, total_chunks: 9 });
    ambient.sendJson({ type: 'end_session' });
    const ended = await ambient.next('session_ended');
    expect(ended).toMatchObject({ session_id: connected.session_id, reason: 'stopped' });
    expect((await ambient.waitClosed()).code).toBe(1000);
    const transcripts = ambient.of('transcript');
    expect(transcripts.map((t) => t.text)).toEqual(SCRIPT.map((s) => s.text));
    expect(transcripts[0]).toMatchObject({ confidence: expect.any(Number), is_final: true });
    // Only finals: the seed's frontend prints every `transcript` it gets.
    expect(ambient.messages.map((m) => m.type)).not.toContain('interim_transcript');
  });

  it('takes a custom session id, refuses it while in use, and refuses ids that need escaping', async () => {
    const { socket, refusal } = await serve();
    const first = await socket('/ws/transcribe/my-session-123');
    expect((await first.next('connected')).session_id).toBe('my-session-123');
    expect(await refusal('/ws/transcribe/my-session-123')).toBe(409);
    expect(await refusal('/ws/transcribe/bad%20id')).toBe(400);
    expect(await refusal('/ws/transcribe/a/b')).toBe(400);
    // Broken percent-encoding is refused, not thrown (it once took the process down).
    expect(await refusal('/ws/transcribe/%E0%A4%A')).toBe(400);
  });

  it('serves its REST paths: list, broadcast, end; 404 and 422 in its FastAPI shape', async () => {
    const { socket, rest } = await serve({ maxConnections: 5 });
    const a = await socket('/ws/transcribe/room-a');
    const b = await socket();
    await a.next('connected');
    await b.next('connected');
    await stream(a, 0.5);
    const list = (await (await rest('/sessions')).json()) as {
      active_sessions: number;
      max_connections: number;
      sessions: { session_id: string; total_chunks: number }[];
    };
    expect(list.active_sessions).toBe(2);
    expect(list.max_connections).toBe(5);
    expect(list.sessions.find((s) => s.session_id === 'room-a')?.total_chunks).toBe(1);

    const announcement = { type: 'announcement', message: 'System maintenance in 5 minutes' };
    const sent = await rest('/broadcast', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(announcement),
    });
    expect(await sent.json()).toEqual({ success: true, sent_to: 2 });
    expect(await a.next('announcement')).toEqual(announcement);
    expect(await b.next('announcement')).toEqual(announcement);
    const bad = await rest('/broadcast', { method: 'POST', body: '[1,2]' });
    expect(bad.status).toBe(422);
    expect(await bad.json()).toEqual({ detail: expect.stringContaining('"type"') });

    const ended = await rest('/sessions/room-a/end', { method: 'POST' });
    expect(await ended.json()).toEqual({
      success: true,
      session_id: 'room-a',
      message: 'Session ended',
    });
    expect(await a.next('session_ended')).toMatchObject({ reason: 'ended' });
    expect((await a.waitClosed()).code).toBe(1000);
    expect((await rest('/sessions/%E0%A4%A/end', { method: 'POST' })).status).toBe(404);
    const missing = await rest('/sessions/room-a/end', { method: 'POST' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ detail: 'Session not found' });
    expect((await rest('/sessions/x/end')).status).toBe(405);
  });

  it("guards its REST paths with the server's adminAuth", async () => {
    const { rest } = await serve({}, 'admin-key');
    expect((await rest('/sessions')).status).toBe(401);
    expect(
      (await rest('/sessions', { headers: { authorization: 'Bearer admin-key' } })).status,
    ).toBe(200);
  });

  it('refuses connections over WEBSOCKET_MAX_CONNECTIONS with HTTP 503', async () => {
    const { socket, refusal } = await serve(
      ambientOptionsFromEnv({ WEBSOCKET_MAX_CONNECTIONS: '2' }),
    );
    const held = [await socket(), await socket()];
    await Promise.all(held.map((s) => s.next('connected')));
    expect(await refusal('/ws/transcribe')).toBe(503);
    held[0]?.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await (await socket()).next('connected')).type).toBe('connected');
  });

  it('ends a session at WEBSOCKET_MAX_SESSION_DURATION and drops a peer that stops answering pings', async () => {
    const { socket, server } = await serve({ maxSessionSeconds: 1, heartbeatIntervalSeconds: 0.2 });
    const timed = await socket();
    expect(await timed.next('session_ended')).toMatchObject({ reason: 'timeout' });

    // A peer whose pongs never come (a dead network path): dropped after two missed pings.
    const silent = await openJsonSocket(`${server.url.replace('http', 'ws')}/ws/transcribe`, {
      autoPong: false,
    });
    expect((await silent.waitClosed()).code).toBe(1006);
  });

  it('answers bad control messages with its error shape and goes on', async () => {
    const { socket } = await serve();
    const ambient = await socket();
    ambient.sendText('not json');
    ambient.sendJson({ type: 'dance' });
    ambient.sendJson({ nope: true });
    await ambient.until(() => ambient.of('error').length >= 3);
    expect(ambient.of('error').map((e) => e.message)).toEqual([
      'Invalid JSON message',
      'Unknown message type: dance',
      'Unknown message type: null',
    ]);
    ambient.sendJson({ type: 'ping' });
    await ambient.next('pong');
  });

  it('reads every WEBSOCKET_* variable, and refuses a malformed one by name', () => {
    expect(
      ambientOptionsFromEnv({
        WEBSOCKET_MAX_CONNECTIONS: '100',
        WEBSOCKET_HEARTBEAT_INTERVAL: '30',
        WEBSOCKET_CHUNK_TIMEOUT: '10',
        WEBSOCKET_MAX_SESSION_DURATION: '7200',
        WEBSOCKET_AUDIO_BUFFER_SIZE: '8192',
        WEBSOCKET_SAMPLE_RATE: '16000',
        WEBSOCKET_CHANNELS: '1',
        WEBSOCKET_CHUNK_DURATION: '2.0',
        WEBSOCKET_OVERLAP_DURATION: '0.5',
        WEBSOCKET_WHISPER_MODEL: 'base',
      }),
    ).toEqual({
      maxConnections: 100,
      heartbeatIntervalSeconds: 30,
      chunkTimeoutSeconds: 10,
      maxSessionSeconds: 7200,
      audioBufferSize: 8192,
      sampleRate: 16000,
      channels: 1,
      chunkDurationSeconds: 2,
      overlapDurationSeconds: 0.5,
      whisperModel: 'base',
    });
    expect(() => ambientOptionsFromEnv({ WEBSOCKET_SAMPLE_RATE: 'fast' })).toThrow(
      /WEBSOCKET_SAMPLE_RATE/,
    );
  });
});
