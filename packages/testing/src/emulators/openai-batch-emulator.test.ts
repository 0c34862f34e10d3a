import { afterEach, describe, expect, it } from 'vitest';
import { encodeWavPcm16 } from '../wav.js';
import { type OpenAIBatchEmulator, startOpenAIBatchEmulator } from './openai-batch-emulator.js';
import { scriptedTranscriber } from './transcriber.js';

// Requests are built by hand with fetch and FormData, as the OpenAI SDK sends them, so each
// field and header the emulator checks is visible here.

const PCM16_16K = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;
const wav = (seconds: number) =>
  encodeWavPcm16(new Uint8Array(Math.round(seconds * 16000) * 2), PCM16_16K);

/** A WAV of G.711 μ-law (format tag 7, 8 bits): a real WAV, but not one OpenAI reads here. */
function mulawWav(seconds: number): Uint8Array {
  const bytes = encodeWavPcm16(new Uint8Array(Math.round(seconds * 8000)), {
    encoding: 'pcm16',
    sampleRate: 8000,
    channels: 1,
  });
  bytes.writeUInt16LE(7, 20);
  bytes.writeUInt32LE(8000, 28);
  bytes.writeUInt16LE(1, 32);
  bytes.writeUInt16LE(8, 34);
  return bytes;
}

let emulator: OpenAIBatchEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function start(): Promise<OpenAIBatchEmulator> {
  emulator = await startOpenAIBatchEmulator({
    transcriber: scriptedTranscriber([{ text: 'hello world', start: 0.2, end: 0.8 }]),
  });
  return emulator;
}

function post(
  fields: Record<string, string | string[]>,
  file: Uint8Array | null = wav(1),
  key = 'test-key',
  path = '/audio/transcriptions',
): Promise<Response> {
  const form = new FormData();
  if (file)
    form.append('file', new Blob([Uint8Array.from(file)], { type: 'audio/wav' }), 'utterance.wav');
  for (const [name, value] of Object.entries(fields)) {
    for (const v of Array.isArray(value) ? value : [value]) form.append(name, v);
  }
  return fetch(`${emulator?.endpoint}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
    body: form,
  });
}

describe('startOpenAIBatchEmulator', () => {
  it('serves on loopback under /v1', async () => {
    const emu = await start();
    expect(emu.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(emu.vendor).toBe('openai-batch');
  });

  it('answers json by default: the text and the billed duration', async () => {
    await start();
    const res = await post({ model: 'whisper-1' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      text: 'hello world',
      usage: { type: 'duration', seconds: 1 },
    });
  });

  it('answers text as plain text', async () => {
    await start();
    const res = await post({ model: 'whisper-1', response_format: 'text' });
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('hello world\n');
  });

  it('answers verbose_json with segments, and words when asked for word timestamps', async () => {
    await start();
    const res = await post({
      model: 'whisper-1',
      response_format: 'verbose_json',
      language: 'en',
      'timestamp_granularities[]': ['word', 'segment'],
    });
    const body = await res.json();
    expect(body).toMatchObject({
      task: 'transcribe',
      language: 'english',
      duration: 1,
      text: 'hello world',
      segments: [{ id: 0, start: 0.2, end: 0.8, text: ' hello world' }],
      words: [
        { word: 'hello', start: 0.2, end: expect.closeTo(0.5, 5) },
        { word: 'world', start: expect.closeTo(0.5, 5), end: 0.8 },
      ],
    });
    const wordsOnly = await post({
      model: 'whisper-1',
      response_format: 'verbose_json',
      'timestamp_granularities[]': 'word',
    });
    expect(await wordsOnly.json()).not.toHaveProperty('segments');
  });

  it('refuses verbose_json for models other than whisper-1, as OpenAI does', async () => {
    await start();
    const res = await post({ model: 'gpt-4o-transcribe', response_format: 'verbose_json' });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({
      type: 'invalid_request_error',
      param: 'response_format',
    });
  });

  it('records each request: headers, form fields but the file, and the audio bytes', async () => {
    const emu = await start();
    await post({ model: 'whisper-1', prompt: 'Earshot' }, wav(0.5));
    expect(emu.connections).toHaveLength(1);
    expect(emu.connections[0]).toMatchObject({
      index: 0,
      headers: { authorization: 'Bearer test-key' },
      config: { model: 'whisper-1', prompt: 'Earshot' },
      audioBytes: 16000,
      closed: { code: 200, reason: 'ok' },
    });
    expect(emu.audioSeconds).toBe(0.5);
  });

  it("refuses another key with 401 and OpenAI's invalid_api_key body", async () => {
    await start();
    const res = await post({ model: 'whisper-1' }, wav(1), 'sk-wrong-key-1234');
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      error: {
        message: expect.stringMatching(/^Incorrect API key provided: sk-\*+1234\./),
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
  });

  it('refuses every key while faults.rejectAuth is set', async () => {
    const emu = await start();
    emu.faults.rejectAuth = true;
    expect((await post({ model: 'whisper-1' })).status).toBe(401);
  });

  it.each([
    ['no model', {}, wav(1), /model/],
    ['no file', { model: 'whisper-1' }, null, /file/],
    [
      'a file that is not a WAV',
      { model: 'whisper-1' },
      new Uint8Array(100),
      /Invalid file format/,
    ],
    ['a WAV of μ-law', { model: 'whisper-1' }, mulawWav(1), /Invalid file format/],
    ['less than 0.1 s of audio', { model: 'whisper-1' }, wav(0.05), /too short/],
  ])('answers 400 for %s', async (_name, fields, file, message) => {
    await start();
    const res = await post(fields, file);
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toMatch(message);
  });

  it('looks models up: a transcription model, a missing one, a bad key, a restricted key', async () => {
    emulator = await startOpenAIBatchEmulator({
      transcriber: scriptedTranscriber([]),
      restrictedApiKey: 'sk-restricted',
    });
    const get = (model: string, key = 'test-key') =>
      fetch(`${emulator?.endpoint}/models/${model}`, {
        headers: { authorization: `Bearer ${key}` },
      });
    const known = await get('whisper-1');
    expect(known.status).toBe(200);
    expect(await known.json()).toMatchObject({ id: 'whisper-1', object: 'model' });
    const missing = await get('whisper-9');
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.code).toBe('model_not_found');
    expect((await get('whisper-1', 'sk-wrong')).status).toBe(401);
    const restricted = await get('whisper-1', 'sk-restricted');
    expect(restricted.status).toBe(401);
    expect((await restricted.json()).error.message).toMatch(/Missing scopes: api.model.read/);
    expect((await post({ model: 'whisper-1' }, wav(1), 'sk-restricted')).status).toBe(200);
    expect(emulator.connections).toHaveLength(1);
  });

  it('answers 404 on other paths', async () => {
    await start();
    const res = await post({ model: 'whisper-1' }, wav(1), 'test-key', '/audio/translations-x');
    expect(res.status).toBe(404);
  });

  it('refuses the next requests with 503 while refuseNext lasts', async () => {
    const emu = await start();
    emu.faults = { refuseNext: 1 };
    expect((await post({ model: 'whisper-1' })).status).toBe(503);
    expect((await post({ model: 'whisper-1' })).status).toBe(200);
  });

  it('answers the request whose audio crosses closeAfterAudioSeconds with that HTTP status, once', async () => {
    const emu = await start();
    emu.faults = { closeAfterAudioSeconds: { seconds: 1.5, code: 500, reason: 'boom' } };
    expect((await post({ model: 'whisper-1' })).status).toBe(200);
    const failed = await post({ model: 'whisper-1' });
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({
      error: { message: 'boom', type: 'server_error', param: null, code: null },
    });
    expect((await post({ model: 'whisper-1' })).status).toBe(200);
  });

  it('counts fault audio from when faults were assigned', async () => {
    const emu = await start();
    await post({ model: 'whisper-1' });
    emu.faults = { closeAfterAudioSeconds: { seconds: 1, code: 429, reason: 'slow down' } };
    expect((await post({ model: 'whisper-1' })).status).toBe(429);
  });

  it('destroys the socket of the request that crosses dropAfterAudioSeconds', async () => {
    const emu = await start();
    emu.faults = { dropAfterAudioSeconds: 0.5 };
    await expect(post({ model: 'whisper-1' })).rejects.toThrow(/fetch failed/);
    expect(emu.connections[0]?.closed).toEqual({ code: 0, reason: 'dropped' });
  });

  it('never answers once stalled, until close()', async () => {
    const emu = await start();
    emu.faults = { stallAfterAudioSeconds: 0.5 };
    const pending = post({ model: 'whisper-1' });
    await expect.poll(() => emu.connections.length).toBe(1);
    await emu.close();
    emulator = undefined;
    await expect(pending).rejects.toThrow(/fetch failed/);
  });
});
