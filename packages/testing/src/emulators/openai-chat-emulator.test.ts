import { readWavHeader } from '@earshot/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { parseWavPcm16 } from '../wav.js';
import {
  OPENAI_CHAT_EMULATOR_REPLY,
  OPENAI_SPEECH_SAMPLE_RATE,
  type OpenAIChatEmulator,
  type OpenAIChatEmulatorOptions,
  startOpenAIChatEmulator,
} from './openai-chat-emulator.js';

// Requests are built by hand with fetch, as the OpenAI SDK sends them, so each field and
// header the emulator checks is visible here (the SDK path is tested by the responders).

let emulator: OpenAIChatEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function start(options?: OpenAIChatEmulatorOptions): Promise<OpenAIChatEmulator> {
  emulator = await startOpenAIChatEmulator(options);
  return emulator;
}

function post(path: string, body: unknown, key = 'test-key'): Promise<Response> {
  return fetch(`${emulator?.endpoint}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const chat = (body: unknown, key?: string) => post('/chat/completions', body, key);
const speech = (body: unknown) => post('/audio/speech', body);
const hello = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] };

/** Root mean square of PCM16 little-endian samples. */
function rms(pcm: Uint8Array): number {
  const samples = new Int16Array(pcm.buffer, pcm.byteOffset, Math.floor(pcm.byteLength / 2));
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.sqrt(sum / Math.max(1, samples.length));
}

describe('startOpenAIChatEmulator', () => {
  it('serves on loopback under /v1', async () => {
    const emu = await start();
    expect(emu.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(emu.vendor).toBe('openai-chat');
  });

  it('answers a chat completion in the API shape with the default reply', async () => {
    await start();
    const res = await chat(hello);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = await res.json();
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'gpt-4o-mini',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: OPENAI_CHAT_EMULATOR_REPLY },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 8, total_tokens: 9 },
    });
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(Number.isInteger(body.created)).toBe(true);
  });

  it('hands the messages to reply, text parts joined, and records the request as sent', async () => {
    const seen: unknown[] = [];
    const emu = await start({
      reply: (messages) => {
        seen.push(messages);
        return `you said ${messages.at(-1)?.content}`;
      },
    });
    const body = {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'be brief' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what ' },
            { type: 'text', text: 'now' },
          ],
        },
      ],
    };
    const res = await chat(body);
    expect((await res.json()).choices[0].message.content).toBe('you said what now');
    expect(seen).toEqual([
      [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'what now' },
      ],
    ]);
    expect(emu.connections).toHaveLength(1);
    expect(emu.connections[0]).toMatchObject({
      path: '/v1/chat/completions',
      body,
      config: body,
      closed: { code: 200 },
    });
    expect(emu.connections[0]?.headers.authorization).toBe('Bearer test-key');
  });

  it('refuses a wrong key with 401 invalid_api_key in the error body', async () => {
    const emu = await start();
    const res = await chat(hello, 'sk-wrong-key-1234');
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      error: {
        message: expect.stringContaining('Incorrect API key provided: sk-*****1234'),
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
    expect(emu.connections[0]?.closed?.code).toBe(401);
  });

  it('refuses a request without a key with 401', async () => {
    await start();
    const res = await fetch(`${emulator?.endpoint}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify(hello),
    });
    expect(res.status).toBe(401);
    expect((await res.json()).error.message).toMatch(/You didn't provide an API key/);
  });

  it('answers malformed JSON with 400 and the API error body', async () => {
    await start();
    const res = await chat('{"model": ');
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error).toMatchObject({ type: 'invalid_request_error', param: null, code: null });
    expect(error.message).toMatch(/could not parse the JSON body/);
  });

  it.each([
    ['no model', { messages: hello.messages }, 'you must provide a model parameter'],
    ['no messages', { model: 'gpt-4o-mini' }, "Missing required parameter: 'messages'."],
    ['empty messages', { model: 'gpt-4o-mini', messages: [] }, "Invalid 'messages': empty array"],
    [
      'an unknown role',
      { model: 'gpt-4o-mini', messages: [{ role: 'robot', content: 'x' }] },
      "Invalid value: 'robot'",
    ],
  ])('answers a chat request with %s with 400', async (_, body, message) => {
    await start();
    const res = await chat(body);
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toContain(message);
  });

  it('speaks wav as a PCM16 24 kHz WAV that is not silence', async () => {
    const emu = await start();
    const res = await speech({
      model: 'gpt-4o-mini-tts',
      voice: 'alloy',
      input: 'Hello from the emulator.',
      response_format: 'wav',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    const bytes = Buffer.from(await res.arrayBuffer());
    const header = readWavHeader(bytes);
    expect(header).toMatchObject({
      complete: true,
      format: { encoding: 'pcm16', sampleRate: OPENAI_SPEECH_SAMPLE_RATE, channels: 1 },
    });
    const { pcm } = parseWavPcm16(bytes);
    expect(pcm.byteLength / 2 / OPENAI_SPEECH_SAMPLE_RATE).toBeGreaterThan(0.5);
    expect(rms(pcm)).toBeGreaterThan(300);
    expect(emu.connections[0]).toMatchObject({
      path: '/v1/audio/speech',
      body: { input: 'Hello from the emulator.', voice: 'alloy' },
      audioBytes: bytes.byteLength,
    });
  });

  it('speaks pcm as the raw samples of the same speech', async () => {
    await start();
    const input = 'Raw samples, please.';
    const ask = (response_format: string) =>
      speech({ model: 'gpt-4o-mini-tts', voice: 'alloy', input, response_format });
    const raw = await ask('pcm');
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('audio/pcm');
    const pcm = Buffer.from(await raw.arrayBuffer());
    const wav = parseWavPcm16(Buffer.from(await (await ask('wav')).arrayBuffer()));
    expect(pcm.equals(wav.pcm)).toBe(true);
    expect(rms(pcm)).toBeGreaterThan(300);
  });

  it.each([
    ['mp3 (the default)', undefined, "response_format 'mp3' is not supported by this emulator"],
    ['an unknown format', 'ogg', "Invalid value: 'ogg'. Supported values are: 'mp3'"],
  ])('answers speech in %s with 400', async (_, response_format, message) => {
    await start();
    const res = await speech({ model: 'tts-1', voice: 'alloy', input: 'hi', response_format });
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error).toMatchObject({ type: 'invalid_request_error', param: 'response_format' });
    expect(error.message).toContain(message);
  });

  it.each([
    ['model', { voice: 'alloy', input: 'hi', response_format: 'wav' }],
    ['input', { model: 'tts-1', voice: 'alloy', response_format: 'wav' }],
    ['voice', { model: 'tts-1', input: 'hi', response_format: 'wav' }],
  ])('answers speech without %s with 400 missing_required_parameter', async (param, body) => {
    await start();
    const res = await speech(body);
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({
      param,
      code: 'missing_required_parameter',
    });
  });

  it('answers an unknown path with 404', async () => {
    await start();
    const res = await post('/completions', hello);
    expect(res.status).toBe(404);
    expect((await res.json()).error.message).toBe('Invalid URL (POST /v1/completions)');
  });

  it('fails the next request with failNext, then answers again', async () => {
    const emu = await start();
    emu.faults = { failNext: { status: 500, message: 'boom' } };
    const failed = await chat(hello);
    expect(failed.status).toBe(500);
    expect((await failed.json()).error).toEqual({
      message: 'boom',
      type: 'server_error',
      param: null,
      code: null,
    });
    expect((await chat(hello)).status).toBe(200);
  });

  it('answers 429 failNext as a rate limit', async () => {
    const emu = await start({ faults: { failNext: { status: 429 } } });
    const res = await chat(hello);
    expect(res.status).toBe(429);
    expect((await res.json()).error).toMatchObject({ code: 'rate_limit_exceeded' });
    expect(emu.faults.failNext).toBeUndefined();
  });

  it('refuses with 401 under rejectAuth and 503 for refuseNext', async () => {
    const emu = await start({ faults: { rejectAuth: true } });
    expect((await chat(hello)).status).toBe(401);
    emu.faults = { refuseNext: 1 };
    expect((await chat(hello)).status).toBe(503);
    expect((await chat(hello)).status).toBe(200);
  });

  it('answers a reply that throws with 500 server_error', async () => {
    await start({
      reply: () => {
        throw new Error('reply broke');
      },
    });
    const res = await chat(hello);
    expect(res.status).toBe(500);
    expect((await res.json()).error).toMatchObject({ type: 'server_error' });
  });
});
