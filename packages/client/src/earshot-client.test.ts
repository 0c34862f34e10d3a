import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EarshotError, type TranscriptMessage } from '@earshot/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { expectCleanTeardown } from '../test/fixtures.js';
import {
  final,
  interim,
  READY_LIMITS,
  refusedUrl,
  type ScriptedServer,
  SUMMARY,
  startScriptedServer,
} from '../test/scripted-server.js';
import type { ClientState } from './client-state.js';
import { EarshotClient, type EarshotClientOptions } from './earshot-client.js';

const PCM16 = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;

let server: ScriptedServer | undefined;
const clients: EarshotClient[] = [];

function client(
  url: string,
  token?: string,
  options: Partial<EarshotClientOptions> = {},
): EarshotClient {
  const c = new EarshotClient({ url, token, ...options });
  clients.push(c);
  return c;
}

afterEach(async () => {
  await expectCleanTeardown(clients, server);
  server = undefined;
});

describe('EarshotClient', () => {
  it('sends start and resolves with ready, moving idle → connecting → open → streaming', async () => {
    server = await startScriptedServer();
    const c = client(server.url, 'secret token');
    const states: ClientState[] = [];
    c.on('state', (s) => states.push(s));

    const ready = await c.start({ audio: PCM16, language: 'en-GB', keywords: ['Earshot'] });

    expect(ready).toMatchObject({
      sessionId: 'sess-1',
      provider: 'scripted',
      limits: READY_LIMITS,
    });
    expect(c.sessionId).toBe('sess-1');
    expect(c.resumeToken).toBe('resume-1');
    expect(c.state).toBe('streaming');
    const conn = await server.connection(0);
    expect(conn.requestUrl).toBe('/v1/listen?token=secret%20token');
    expect(await conn.message('start')).toMatchObject({
      audio: PCM16,
      language: 'en-GB',
      keywords: ['Earshot'],
      interimResults: true,
    });
    await c.close();
    expect(states).toEqual(['connecting', 'open', 'streaming', 'closed']);
  });

  it('sends audio as binary frames, byte-exact and un-encoded, and counts bytes sent and acked', async () => {
    server = await startScriptedServer({
      onAudio: (conn) => conn.send({ type: 'ack', audioBytes: conn.audioBytes() }),
    });
    const c = client(server.url);
    await c.start({ audio: PCM16 });
    const backing = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
    // A view into a larger buffer: only the view's bytes may travel.
    const view = backing.subarray(100, 1100);
    const buffer = backing.slice(2000, 2600).buffer;
    const acks: number[] = [];
    c.on('ack', (a) => acks.push(a.audioBytes));

    c.sendAudio(view);
    c.sendAudio(buffer);

    const conn = await server.connection(0);
    await conn.until(() => conn.audioBytes() === 1600);
    expect(conn.audioFrames.map((f) => f.byteLength)).toEqual([1000, 600]);
    expect(Buffer.from(conn.audio()).equals(Buffer.concat([view, backing.slice(2000, 2600)]))).toBe(
      true,
    );
    expect(c.bytesSent).toBe(1600);
    const closed = await c.stop();
    expect(closed.summary).toEqual(SUMMARY);
    expect(acks).toEqual([1000, 1600]);
    expect(c.acknowledgedBytes).toBe(1600);
  });

  it('emits transcripts and yields only finals from the iterator, ending on closed', async () => {
    server = await startScriptedServer({
      onAudio: (conn) => {
        conn.send(interim('s1', 'hello'));
        conn.send(final('s1', 'hello world'));
        conn.send({ type: 'speech_started', timestamp: 1 });
        conn.send(interim('s2', 'good'));
      },
      finalsOnStop: [final('s2', 'goodbye', 1, 2)],
    });
    const c = client(server.url);
    const seen: Array<[string, boolean]> = [];
    c.on('transcript', (t) => seen.push([t.text, t.isFinal]));
    let speech = 0;
    c.on('speech_started', () => speech++);
    await c.start({ audio: PCM16 });
    const finals = c.transcripts();
    const all = c.transcripts({ interim: true });

    c.sendAudio(new Uint8Array(320));
    const stopped = c.stop();

    const texts: string[] = [];
    for await (const t of finals) texts.push(t.text);
    const allTexts: string[] = [];
    for await (const t of all) allTexts.push(t.text);
    expect(texts).toEqual(['hello world', 'goodbye']);
    expect(allTexts).toEqual(['hello', 'hello world', 'good', 'goodbye']);
    expect(seen).toEqual([
      ['hello', false],
      ['hello world', true],
      ['good', false],
      ['goodbye', true],
    ]);
    expect(speech).toBe(1);
    expect(await stopped).toEqual({ type: 'closed', reason: 'stopped', summary: SUMMARY });
    expect(c.state).toBe('closed');
  });

  it('resolves stop with the summary after the server closes, and moves through stopping', async () => {
    server = await startScriptedServer();
    const c = client(server.url);
    const states: ClientState[] = [];
    c.on('state', (s) => states.push(s));
    const closes: number[] = [];
    c.on('close', (info) => closes.push(info.code));
    await c.start({ audio: PCM16 });

    const closed = await c.stop();

    expect(closed.summary).toEqual(SUMMARY);
    expect(c.closedMessage).toEqual(closed);
    expect(states).toEqual(['connecting', 'open', 'streaming', 'stopping', 'closed']);
    expect(closes).toEqual([1000]);
    expect(() => c.sendAudio(new Uint8Array(2))).toThrow(
      expect.objectContaining({ code: 'session_ended' }),
    );
  });

  it('rejects start with the server error code when an error comes before ready', async () => {
    server = await startScriptedServer({
      onStart: (conn) =>
        conn.send({
          type: 'error',
          code: 'unsupported_audio_format',
          message: 'no opus here',
          fatal: false,
        }),
    });
    const c = client(server.url);
    const errors: EarshotError[] = [];
    c.on('error', (e) => errors.push(e));

    const failure = await c.start({ audio: PCM16 }).catch((e: unknown) => e);

    expect(EarshotError.isInstance(failure)).toBe(true);
    expect(failure).toMatchObject({ code: 'unsupported_audio_format', fatal: false });
    expect(errors.map((e) => e.code)).toEqual(['unsupported_audio_format']);
    // Not fatal: the socket stays open for another start.
    expect(c.state).toBe('open');
    await c.close();
  });

  it('fails the session on a fatal server error: the iterator throws and stop rejects', async () => {
    server = await startScriptedServer({
      onAudio: (conn) => {
        conn.send(final('s1', 'one'));
        conn.send({ type: 'error', code: 'provider_error', message: 'upstream gone', fatal: true });
        conn.socket.close(4001, 'provider failed');
      },
    });
    const c = client(server.url);
    await c.start({ audio: PCM16 });
    const it = c.transcripts();
    c.sendAudio(new Uint8Array(2));

    const got: string[] = [];
    const thrown = await (async () => {
      for await (const t of it) got.push(t.text);
    })().catch((e: unknown) => e);

    expect(got).toEqual(['one']);
    expect(thrown).toMatchObject({ code: 'provider_error', fatal: true });
    expect(c.state).toBe('error');
    await expect(c.stop()).rejects.toMatchObject({ code: 'provider_error' });
  });

  it('reports a malformed server frame as an error event and goes on', async () => {
    server = await startScriptedServer({
      onAudio: (conn) => {
        conn.sendRaw('{not json');
        conn.sendRaw(JSON.stringify({ type: 'transcript', isFinal: 'yes' }));
        conn.sendRaw(JSON.stringify({ type: 'surprise' }));
        conn.send(final('s1', 'still here'));
      },
    });
    const c = client(server.url);
    const errors: EarshotError[] = [];
    c.on('error', (e) => errors.push(e));
    await c.start({ audio: PCM16 });
    const it = c.transcripts();

    c.sendAudio(new Uint8Array(2));
    const first = await it.next();

    expect(first.value?.text).toBe('still here');
    expect(errors.map((e) => e.code)).toEqual([
      'invalid_json',
      'invalid_message',
      'unknown_message_type',
    ]);
    expect(errors.every((e) => EarshotError.isInstance(e) && !e.fatal)).toBe(true);
    expect(c.state).toBe('streaming');
    await c.stop();
  });

  it('rejects start with the abort reason and closes the socket when the signal aborts', async () => {
    // The server never answers start, so only the abort can end the wait.
    server = await startScriptedServer({ onStart: () => {} });
    const c = client(server.url);
    const controller = new AbortController();
    const pending = c.start({ audio: PCM16, signal: controller.signal });
    const conn = await server.connection(0);
    await conn.message('start');

    controller.abort(new Error('user gave up'));

    await expect(pending).rejects.toThrow('user gave up');
    await new Promise((resolve) => c.once('close', resolve));
    await conn.closed;
    expect(c.state).toBe('closed');
  });

  it('ends a transcript iterator with the abort reason when its signal aborts', async () => {
    server = await startScriptedServer();
    const c = client(server.url);
    await c.start({ audio: PCM16 });
    const controller = new AbortController();
    const it = c.transcripts({ signal: controller.signal });
    const next = it.next();

    controller.abort();

    await expect(next).rejects.toMatchObject({ name: 'AbortError' });
    await c.stop();
  });

  it('rejects connect with a connection-failure error when nothing listens', async () => {
    const c = client(await refusedUrl());
    const errors: EarshotError[] = [];
    c.on('error', (e) => errors.push(e));

    const failure = await c.connect().catch((e: unknown) => e);

    expect(failure).toMatchObject({
      code: 'connection_failed',
      details: { reason: 'connection_failed' },
    });
    expect((failure as Error).message).toMatch(
      /cannot connect to ws:\/\/127\.0\.0\.1:\d+.*ECONNREFUSED/,
    );
    expect(errors).toHaveLength(1);
    expect(c.state).toBe('error');
  });

  it('maps an HTTP 401 answer to the upgrade to unauthorized', async () => {
    // Authentication happens at the upgrade, before any socket exists: a plain HTTP refusal.
    const http = createServer();
    http.on('upgrade', (_request, socket) => {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = http.address() as AddressInfo;
      const c = client(`ws://127.0.0.1:${port}/v1/listen`, 'wrong');

      const failure = await c.start({ audio: PCM16 }).catch((e: unknown) => e);

      expect(failure).toMatchObject({ code: 'unauthorized', details: { httpStatus: 401 } });
      expect((failure as Error).message).not.toContain('wrong');
    } finally {
      await new Promise((resolve) => http.close(resolve));
    }
  });

  it('fails with session_ended when the socket drops without closed and reconnect is off', async () => {
    server = await startScriptedServer({ onAudio: (conn) => conn.socket.terminate() });
    const c = client(server.url, undefined, { reconnect: false });
    await c.start({ audio: PCM16 });
    const it = c.transcripts();

    c.sendAudio(new Uint8Array(2));

    await expect(it.next()).rejects.toMatchObject({
      code: 'session_ended',
      details: { closeCode: 1006 },
    });
    expect(c.state).toBe('error');
  });

  it('answers ping with the matching pong and session_info with the figures', async () => {
    server = await startScriptedServer();
    const c = client(server.url);
    await c.start({ audio: PCM16 });
    const conn = await server.connection(0);
    const info = {
      type: 'session_info',
      sessionId: 'sess-1',
      status: 'active',
      audioBytes: 0,
      audioSeconds: 0,
      finalSegments: 0,
      startedAt: '2025-01-01T00:00:00.000Z',
    } as const;

    const pong = await c.ping();
    const asked = c.requestSessionInfo();
    await conn.message('session_info');
    conn.send(info);

    expect(pong.id).toBe('p1');
    expect(await asked).toMatchObject({ sessionId: 'sess-1', status: 'active' });
    await c.stop();
  });

  it('refuses audio before ready and frames larger than the server limit', async () => {
    server = await startScriptedServer();
    const c = client(server.url);
    expect(() => c.sendAudio(new Uint8Array(2))).toThrow(
      expect.objectContaining({ code: 'not_started' }),
    );
    await c.start({ audio: PCM16 });
    expect(() => c.sendAudio(new Uint8Array(READY_LIMITS.maxFrameBytes + 2))).toThrow(
      expect.objectContaining({ code: 'frame_too_large' }),
    );
    await c.stop();
    expect(server.connections[0]?.audioFrames).toEqual([]);
  });

  it('rejects invalid start options locally with invalid_message', async () => {
    const c = client('ws://127.0.0.1:9/v1/listen');
    await expect(
      c.start({ audio: { encoding: 'pcm16', sampleRate: 1, channels: 1 } }),
    ).rejects.toMatchObject({ code: 'invalid_message' });
    expect(c.state).toBe('idle');
  });

  it('keeps transcripts that arrive between two next() calls', async () => {
    server = await startScriptedServer({
      onAudio: (conn) => {
        for (let i = 0; i < 5; i++) conn.send(final(`s${i}`, `t${i}`));
      },
    });
    const c = client(server.url);
    await c.start({ audio: PCM16, interimResults: false });
    const it = c.transcripts();
    const got: TranscriptMessage[] = [];
    c.sendAudio(new Uint8Array(2));
    // The pong comes after the five finals, so all of them are queued before the first next().
    await c.ping();
    const stopped = c.stop();
    for await (const t of it) got.push(t);
    await stopped;
    expect(got.map((t) => t.text)).toEqual(['t0', 't1', 't2', 't3', 't4']);
  });
});
