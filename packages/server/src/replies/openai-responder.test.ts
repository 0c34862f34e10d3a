import { EarshotError, readWavHeader } from '@earshot/protocol';
import {
  closedPort,
  type OpenAIChatEmulator,
  type OpenAIChatEmulatorOptions,
  parseWavPcm16,
  startOpenAIChatEmulator,
} from '@earshot/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createOpenAIResponder,
  DEFAULT_REPLY_INSTRUCTIONS,
  type OpenAIResponderOptions,
} from './openai-responder.js';
import type { ReplyRequest, ReplyTurn } from './responder.js';

// Every request goes through the real `openai` SDK to the emulator of OpenAI's HTTP API.

let emulator: OpenAIChatEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function start(options?: OpenAIChatEmulatorOptions): Promise<OpenAIChatEmulator> {
  emulator = await startOpenAIChatEmulator(options);
  return emulator;
}

function responder(overrides: Partial<OpenAIResponderOptions> = {}) {
  return createOpenAIResponder({
    apiKey: emulator?.apiKey ?? 'test-key',
    baseURL: emulator?.endpoint,
    ...overrides,
  });
}

function request(
  transcript: string,
  history: readonly ReplyTurn[] = [],
  signal = new AbortController().signal,
): ReplyRequest {
  return { transcript, sessionId: 'session-1', metadata: {}, history, signal };
}

const turns = (n: number): ReplyTurn[] =>
  Array.from({ length: n }, (_, i) => ({ user: `question ${i}`, assistant: `answer ${i}` }));

/** Root mean square of PCM16 little-endian samples. */
function rms(pcm: Uint8Array): number {
  const samples = new Int16Array(pcm.buffer, pcm.byteOffset, Math.floor(pcm.byteLength / 2));
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.sqrt(sum / Math.max(1, samples.length));
}

/** A promise with its resolve, to hold the emulator's answer until the test lets it go. */
function deferred<T = void>() {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('createOpenAIResponder', () => {
  it('sends the instructions, the history and the transcript, and speaks the reply', async () => {
    const emu = await start({ reply: (messages) => `You asked: ${messages.at(-1)?.content}` });
    const openai = responder({ instructions: 'Answer like a pirate.', voice: 'coral' });
    expect(openai.name).toBe('openai');

    const reply = await openai.respond(request('where is the ship', turns(2)));

    expect(reply.text).toBe('You asked: where is the ship');
    const [chat, speech] = emu.connections;
    expect(chat?.path).toBe('/v1/chat/completions');
    expect(chat?.body).toEqual({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Answer like a pirate.' },
        { role: 'user', content: 'question 0' },
        { role: 'assistant', content: 'answer 0' },
        { role: 'user', content: 'question 1' },
        { role: 'assistant', content: 'answer 1' },
        { role: 'user', content: 'where is the ship' },
      ],
    });
    expect(chat?.headers.authorization).toBe(`Bearer ${emu.apiKey}`);
    expect(speech?.path).toBe('/v1/audio/speech');
    expect(speech?.body).toEqual({
      model: 'gpt-4o-mini-tts',
      voice: 'coral',
      input: 'You asked: where is the ship',
      response_format: 'wav',
    });

    expect(reply.audio?.format).toBe('wav');
    const bytes = Buffer.from(reply.audio?.data ?? new Uint8Array());
    const header = readWavHeader(bytes);
    expect(header).toMatchObject({ complete: true, dataBytes: bytes.byteLength - 44 });
    const { format, pcm } = parseWavPcm16(bytes);
    expect(format).toEqual({ encoding: 'pcm16', sampleRate: 24000, channels: 1 });
    expect(pcm.byteLength / 2 / 24000).toBeGreaterThan(1);
    expect(rms(pcm)).toBeGreaterThan(300);
  });

  it('sends the default instructions, or none when they are empty', async () => {
    const emu = await start();
    await responder({ speak: false }).respond(request('hi'));
    await responder({ speak: false, instructions: '' }).respond(request('hi'));
    const sent = emu.connections.map((c) => (c.body as { messages: unknown[] }).messages);
    expect(sent).toEqual([
      [
        { role: 'system', content: DEFAULT_REPLY_INSTRUCTIONS },
        { role: 'user', content: 'hi' },
      ],
      [{ role: 'user', content: 'hi' }],
    ]);
  });

  it.each([
    [2, ['question 3', 'answer 3', 'question 4', 'answer 4']],
    [0, []],
  ])('sends only the latest maxHistory (%i) exchanges', async (maxHistory, expected) => {
    const emu = await start();
    await responder({ speak: false, maxHistory, instructions: '' }).respond(
      request('now', turns(5)),
    );
    const body = emu.connections[0]?.body as { messages: { content: string }[] } | undefined;
    expect(body?.messages.map((m) => m.content)).toEqual([...expected, 'now']);
  });

  it('answers text only, with one request, when speak is false', async () => {
    const emu = await start();
    const reply = await responder({ speak: false, model: 'gpt-4.1-nano' }).respond(request('hi'));
    expect(reply).toEqual({ text: 'Hello from the emulator. How can I help?' });
    expect(emu.connections).toHaveLength(1);
    expect(emu.connections[0]?.body).toMatchObject({ model: 'gpt-4.1-nano' });
  });

  it('rejects a refused key with provider_unavailable, not fatal', async () => {
    await start();
    const error = await responder({ apiKey: 'sk-not-the-key' })
      .respond(request('hi'))
      .catch((e: unknown) => e);
    expect(EarshotError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      code: 'provider_unavailable',
      fatal: false,
      details: { failure: 'auth', retryable: false, vendorCode: 401 },
    });
    expect((error as Error).message).toMatch(/^OpenAI answered 401 Incorrect API key provided/);
  });

  it.each([
    [500, 'provider_error', 'dropped'],
    [429, 'capacity', 'rate-limited'],
    [400, 'provider_error', 'rejected'],
  ])('rejects an HTTP %i with %s (%s), without retrying', async (status, code, failure) => {
    const emu = await start({ faults: { failNext: { status, message: 'injected' } } });
    await expect(responder().respond(request('hi'))).rejects.toMatchObject({
      code,
      fatal: false,
      details: { failure, vendorCode: status },
    });
    expect(emu.connections).toHaveLength(1);
  });

  it('rejects a speech request OpenAI refuses with provider_error', async () => {
    // Longer than the 4096 characters text-to-speech takes.
    await start({ reply: () => 'word '.repeat(1000) });
    await expect(responder().respond(request('talk a lot'))).rejects.toMatchObject({
      code: 'provider_error',
      message: expect.stringMatching(/^OpenAI answered 400 Invalid 'input': string too long/),
    });
  });

  it('rejects an endpoint nobody listens on with provider_unavailable', async () => {
    const openai = createOpenAIResponder({
      apiKey: 'test-key',
      baseURL: `http://127.0.0.1:${await closedPort()}/v1`,
    });
    await expect(openai.respond(request('hi'))).rejects.toMatchObject({
      code: 'provider_unavailable',
      details: { failure: 'unreachable', vendorCode: 'ECONNREFUSED' },
    });
  });

  it('aborts the request in flight when the signal aborts, and rejects with an AbortError', async () => {
    const arrived = deferred();
    const release = deferred<string>();
    const emu = await start({
      reply: () => {
        arrived.resolve();
        return release.promise;
      },
    });
    const controller = new AbortController();
    const replying = responder()
      .respond(request('hi', [], controller.signal))
      .catch((e: unknown) => e);
    await arrived.promise;
    controller.abort(new Error('caller spoke over the reply'));
    const error = await replying;
    release.resolve('too late');
    expect(EarshotError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ name: 'AbortError', details: { aborted: true } });
    expect((error as Error).cause).toEqual(new Error('caller spoke over the reply'));
    // Nothing was spoken for an aborted reply.
    expect(emu.connections.map((c) => c.path)).toEqual(['/v1/chat/completions']);
  });

  it('gives up after timeoutMs with timeout', async () => {
    const release = deferred<string>();
    await start({ reply: () => release.promise });
    const error = await responder({ timeoutMs: 200 })
      .respond(request('hi'))
      .catch((e: unknown) => e);
    release.resolve('too late');
    expect(error).toMatchObject({
      code: 'timeout',
      message: 'the OpenAI reply took longer than 200 ms',
    });
  });

  it('needs an API key', () => {
    expect(() => createOpenAIResponder({ apiKey: '' })).toThrow(/needs an apiKey/);
  });
});
