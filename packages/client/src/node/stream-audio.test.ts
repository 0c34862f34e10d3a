import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { PCM16_16K_MONO } from '@earshot/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectCleanTeardown, SPEECH_WAV } from '../../test/fixtures.js';
import {
  final,
  type ScriptedServer,
  SUMMARY,
  startScriptedServer,
} from '../../test/scripted-server.js';
import { EarshotClient } from '../earshot-client.js';
import { readAudioFile } from './read-audio-file.js';
import { streamAudio, streamFile, streamReadable } from './stream-audio.js';
import { transcribeFile } from './transcribe-file.js';

let server: ScriptedServer | undefined;
const clients: EarshotClient[] = [];

async function started(): Promise<EarshotClient> {
  server ??= await startScriptedServer();
  const client = new EarshotClient({ url: server.url });
  clients.push(client);
  await client.start({ audio: PCM16_16K_MONO });
  return client;
}

afterEach(async () => {
  vi.useRealTimers();
  await expectCleanTeardown(clients, server);
  server = undefined;
});

describe('streamFile', () => {
  it('sends the whole data section of a WAV file, in order, in 100 ms frames, at fast pace', async () => {
    const client = await started();
    const { data } = await readAudioFile(SPEECH_WAV);
    const file = await readFile(SPEECH_WAV);

    const result = await streamFile(client, SPEECH_WAV, { pace: 'fast' });
    await client.stop();

    const conn = server?.connections[0];
    expect(result).toEqual({ format: PCM16_16K_MONO, bytes: 227200, chunks: 71 });
    expect(conn?.audioBytes()).toBe(227200);
    // 100 ms of 16 kHz PCM16 is 3200 bytes; the last frame holds the rest.
    expect(conn?.audioFrames.slice(0, -1).every((f) => f.byteLength === 3200)).toBe(true);
    expect(Buffer.from(conn?.audio() ?? []).equals(Buffer.from(data))).toBe(true);
    // The 44-byte RIFF header is not audio and never travels.
    expect(Buffer.from(conn?.audio() ?? []).equals(file.subarray(44))).toBe(true);
  });

  it('paces frames in real time on a schedule from the first frame', async () => {
    const client = await started();
    const second = new Uint8Array(32000); // one second of PCM16 at 16 kHz
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });

    const done = streamAudio(client, second, PCM16_16K_MONO, { pace: 'realtime' });
    await vi.advanceTimersByTimeAsync(0);
    expect(client.bytesSent).toBe(3200);
    await vi.advanceTimersByTimeAsync(99);
    expect(client.bytesSent).toBe(3200);
    await vi.advanceTimersByTimeAsync(1);
    expect(client.bytesSent).toBe(6400);
    await vi.advanceTimersByTimeAsync(400);
    expect(client.bytesSent).toBe(6 * 3200);
    await vi.advanceTimersByTimeAsync(400);
    expect(await done).toMatchObject({ bytes: 32000, chunks: 10 });

    vi.useRealTimers();
    await client.stop();
  });

  it('paces at a multiple of real time', async () => {
    const client = await started();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });

    const done = streamAudio(client, new Uint8Array(32000), PCM16_16K_MONO, {
      pace: 4,
      chunkMs: 200,
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(client.bytesSent).toBe(6400);
    await vi.advanceTimersByTimeAsync(50);
    expect(client.bytesSent).toBe(12800);
    await vi.advanceTimersByTimeAsync(200);
    await done;
    expect(client.bytesSent).toBe(32000);

    vi.useRealTimers();
    await client.stop();
  });

  it('stops sending when the signal aborts, rejecting with its reason', async () => {
    const client = await started();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const controller = new AbortController();

    const done = streamAudio(client, new Uint8Array(32000), PCM16_16K_MONO, {
      signal: controller.signal,
    });
    await vi.advanceTimersByTimeAsync(150);
    controller.abort(new Error('enough'));

    await expect(done).rejects.toThrow('enough');
    expect(client.bytesSent).toBe(6400);
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
    await client.stop();
  });

  it('waits while the socket buffer is above the high-water mark', async () => {
    const client = await started();
    let buffered = 10_000;
    vi.spyOn(client, 'bufferedAmount', 'get').mockImplementation(() => buffered);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });

    const done = streamAudio(client, new Uint8Array(6400), PCM16_16K_MONO, {
      pace: 'fast',
      highWaterMark: 4096,
    });
    await vi.advanceTimersByTimeAsync(50);
    expect(client.bytesSent).toBe(0);
    buffered = 0;
    await vi.advanceTimersByTimeAsync(5);
    await done;
    expect(client.bytesSent).toBe(6400);

    vi.useRealTimers();
    await client.stop();
  });

  it('refuses audio in a format other than the session was started with', async () => {
    const client = await started();
    await expect(
      streamAudio(client, new Uint8Array(4), { encoding: 'pcm16', sampleRate: 8000, channels: 1 }),
    ).rejects.toMatchObject({ code: 'unsupported_audio_format' });
    await client.stop();
  });
});

describe('streamReadable', () => {
  it('re-cuts irregular pieces into whole frames without losing or reordering bytes', async () => {
    const client = await started();
    const bytes = new Uint8Array(10_001).map((_, i) => i % 251);
    const pieces = [1, 999, 3200, 50, 5000, 751].reduce<{ at: number; list: Buffer[] }>(
      (acc, n) => {
        acc.list.push(Buffer.from(bytes.subarray(acc.at, acc.at + n)));
        acc.at += n;
        return acc;
      },
      { at: 0, list: [] },
    ).list;

    const result = await streamReadable(client, Readable.from(pieces), PCM16_16K_MONO, {
      pace: 'fast',
    });
    await client.stop();

    const conn = server?.connections[0];
    // 10 001 bytes: three 3200-byte frames, then 400 whole bytes; the torn last byte is dropped.
    expect(conn?.audioFrames.map((f) => f.byteLength)).toEqual([3200, 3200, 3200, 400]);
    expect(result.bytes).toBe(10_000);
    expect(Buffer.from(conn?.audio() ?? []).equals(Buffer.from(bytes.subarray(0, 10_000)))).toBe(
      true,
    );
  });
});

describe('transcribeFile', () => {
  it('connects, streams the file, stops, and returns the finals and the summary', async () => {
    server = await startScriptedServer({
      finalsOnStop: [final('s1', 'she was', 0, 1), final('s2', 'sensible', 1, 2)],
    });
    const seen: string[] = [];

    const result = await transcribeFile(server.url, SPEECH_WAV, {
      pace: 'fast',
      start: { language: 'en-GB' },
      onTranscript: (t) => seen.push(t.text),
    });

    expect(result.finals.map((t) => t.text)).toEqual(['she was', 'sensible']);
    expect(result.closed.summary).toEqual(SUMMARY);
    expect(result.ready.audio).toEqual(PCM16_16K_MONO);
    expect(seen).toEqual(['she was', 'sensible']);
    const conn = server.connections[0];
    expect(await conn?.message('start')).toMatchObject({
      language: 'en-GB',
      audio: PCM16_16K_MONO,
    });
    expect(conn?.audioBytes()).toBe(227200);
  });

  it('throws the server error and closes the connection when the session fails', async () => {
    server = await startScriptedServer({
      onStart: (conn) => {
        conn.send({ type: 'error', code: 'capacity', message: 'full', fatal: true });
        conn.socket.close(1013, 'try again later');
      },
    });

    await expect(transcribeFile(server.url, SPEECH_WAV, { pace: 'fast' })).rejects.toMatchObject({
      code: 'capacity',
      message: 'full',
    });
  });
});
