import type { AudioFormat, EarshotError } from '@earshot/protocol';
import {
  closedPort,
  countResources,
  type EmulatorFaults,
  leftoverResources,
  type OpenAIEmulator,
  type ScriptedUtterance,
  scriptedTranscriber,
  startOpenAIEmulator,
} from '@earshot/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ProviderTranscript, SttStream, SttStreamOptions } from '../stt-provider.js';
import { createOpenAIProvider, type OpenAIProviderSettings } from './index.js';

// The real `openai` SDK (OpenAIRealtimeWS) against the loopback emulator of the Realtime API.

const PCM24: AudioFormat = { encoding: 'pcm16', sampleRate: 24000, channels: 1 };
const MULAW8: AudioFormat = { encoding: 'mulaw', sampleRate: 8000, channels: 1 };
const SCRIPT: readonly ScriptedUtterance[] = [
  { text: 'hello world', start: 0.5, end: 1.5 },
  { text: 'how are you today', start: 2.0, end: 3.0 },
];

let emulator: OpenAIEmulator | undefined;
let resourcesBefore: Map<string, number> | undefined;

interface Setup {
  script?: readonly ScriptedUtterance[];
  faults?: EmulatorFaults;
  completeOutOfOrder?: boolean;
  failTranscriptionOf?: readonly number[];
  settings?: OpenAIProviderSettings;
}

async function setup(setup: Setup = {}) {
  emulator = await startOpenAIEmulator({
    transcriber: scriptedTranscriber(setup.script ?? SCRIPT),
    ...(setup.faults ? { faults: setup.faults } : {}),
    ...(setup.completeOutOfOrder ? { completeOutOfOrder: true } : {}),
    ...(setup.failTranscriptionOf ? { failTranscriptionOf: setup.failTranscriptionOf } : {}),
  });
  resourcesBefore = countResources();
  const provider = createOpenAIProvider({
    apiKey: emulator.apiKey,
    baseURL: emulator.endpoint,
    ca: emulator.ca,
    ...setup.settings,
  });
  return { emulator, provider };
}

function streamOptions(overrides: Partial<SttStreamOptions> = {}): SttStreamOptions {
  return {
    audio: PCM24,
    language: 'en-US',
    interimResults: true,
    keywords: [],
    diarize: false,
    ...overrides,
  };
}

/**
 * Waits (up to 2 s) until the stream's sockets and timers are gone: a destroyed socket's
 * handle closes on a later turn of the loop.
 */
async function expectNoLeftovers(): Promise<void> {
  expect(await leftoverResources(resourcesBefore ?? new Map())).toEqual([]);
}

afterEach(async () => {
  const current = emulator;
  emulator = undefined;
  if (!current) return;
  // Every connection the provider opened has been closed, and nothing of the stream remains.
  await vi.waitFor(() => expect(current.connections.filter((c) => !c.closed)).toEqual([]));
  await expectNoLeftovers();
  await current.close();
});

/** Writes `seconds` of silence (the scripted transcriber hears its script) in 100 ms chunks. */
function writeAudio(stream: SttStream, seconds: number, format: AudioFormat = PCM24): void {
  const bytesPerSecond = format.sampleRate * (format.encoding === 'pcm16' ? 2 : 1);
  const chunk = new Uint8Array(bytesPerSecond / 10);
  for (let t = 0; t < seconds - 1e-9; t += 0.1) stream.write(chunk);
}

function record(stream: SttStream) {
  const log = {
    transcripts: [] as ProviderTranscript[],
    speechStarted: [] as number[],
    utteranceEnds: [] as { timestamp: number; segmentId?: string }[],
    errors: [] as EarshotError[],
    closed: new Promise<void>((resolve) => stream.once('close', resolve)),
    finals: () => log.transcripts.filter((t) => t.isFinal),
  };
  stream.on('transcript', (t) => log.transcripts.push(t));
  stream.on('speech_started', (e) => log.speechStarted.push(e.timestamp));
  stream.on('utterance_end', (e) => log.utteranceEnds.push(e));
  stream.on('error', (e) => log.errors.push(e));
  return log;
}

function next<T>(
  stream: SttStream,
  event: 'speech_started' | 'transcript',
  test: (value: T) => boolean = () => true,
): Promise<T> {
  return new Promise((resolve) => {
    const listener = (value: T) => {
      if (!test(value)) return;
      stream.off(event, listener as never);
      resolve(value);
    };
    stream.on(event, listener as never);
  });
}

describe('createOpenAIProvider', () => {
  it('declares PCM16 24 kHz and G.711 8 kHz input, interims without word timings, a 60-minute cap and no idle timeout', () => {
    const provider = createOpenAIProvider({ apiKey: 'unused' });
    expect(provider.specificationVersion).toBe('v1');
    expect(provider.name).toBe('openai');
    expect(provider.capabilities).toMatchObject({
      inputFormats: [
        { encoding: 'pcm16', sampleRate: 24000, channels: 1 },
        { encoding: 'mulaw', sampleRate: 8000, channels: 1 },
        { encoding: 'alaw', sampleRate: 8000, channels: 1 },
      ],
      interimResults: true,
      wordTimings: false,
      diarization: false,
      keywordBoosting: true,
      languages: 'any',
      maxStreamSeconds: 3600,
    });
    expect(provider.capabilities.idleTimeoutSeconds).toBeUndefined();
  });

  it('refuses a format OpenAI does not take, before connecting', async () => {
    const provider = createOpenAIProvider({ apiKey: 'unused' });
    await expect(
      provider.open(
        streamOptions({ audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 } }),
      ),
    ).rejects.toMatchObject({ code: 'unsupported_audio_format' });
  });

  it('opens a GA transcription session: intent=transcription, bearer key, then session.update with model, language and format', async () => {
    const { emulator, provider } = await setup();
    const stream = await provider.open(streamOptions());
    const connection = emulator.connections[0]!;
    expect(connection.query.get('intent')).toBe('transcription');
    expect(connection.headers.authorization).toBe(`Bearer ${emulator.apiKey}`);
    expect(connection.config).toMatchObject({
      type: 'transcription',
      audio: {
        input: {
          format: { type: 'audio/pcm', rate: 24000 },
          transcription: { model: 'gpt-4o-transcribe', language: 'en' },
          turn_detection: { type: 'server_vad' },
          noise_reduction: null,
        },
      },
    });
    expect(stream.keepAlive).toBeUndefined();
    await stream.end();
  });

  it('streams interims and one final per utterance, with segment ids and times from speech_started and speech_stopped', async () => {
    const { provider } = await setup();
    const stream = await provider.open(streamOptions());
    const log = record(stream);
    writeAudio(stream, 3.5);
    await stream.end();
    await log.closed;

    expect(log.errors).toEqual([]);
    const finals = log.finals();
    expect(finals.map((f) => [f.text, f.start, f.end])).toEqual([
      ['hello world', 0.5, 1.5],
      ['how are you today', 2, 3],
    ]);
    expect(finals[0]!.segmentId).not.toBe(finals[1]!.segmentId);
    for (const final of finals) {
      const segment = log.transcripts.filter((t) => t.segmentId === final.segmentId);
      expect(segment.filter((t) => t.isFinal)).toHaveLength(1);
      expect(segment.at(-1)).toBe(final);
      expect(final.words).toEqual([]);
    }
    const interims = log.transcripts.filter((t) => !t.isFinal);
    expect(interims.map((t) => t.text)).toContain('hello');
    expect(interims.find((t) => t.text === 'hello')?.segmentId).toBe(finals[0]!.segmentId);
    expect(log.speechStarted).toEqual([0.5, 2]);
    expect(log.utteranceEnds).toEqual([
      { timestamp: 1.5, segmentId: finals[0]!.segmentId },
      { timestamp: 3, segmentId: finals[1]!.segmentId },
    ]);
  });

  it('puts finals back in spoken order when OpenAI completes items out of order', async () => {
    const script = [
      { text: 'one', start: 0.2, end: 0.5 },
      { text: 'two', start: 1.0, end: 1.3 },
      { text: 'three', start: 1.8, end: 2.1 },
      { text: 'four', start: 2.6, end: 2.9 },
    ];
    const { provider } = await setup({ script, completeOutOfOrder: true });
    const stream = await provider.open(streamOptions());
    const log = record(stream);
    writeAudio(stream, 3.5);
    await stream.end();
    await log.closed;

    expect(log.finals().map((f) => f.text)).toEqual(['one', 'two', 'three', 'four']);
    // Segments never interleave: every transcript of a segment comes before the next one's.
    const ids = log.transcripts.map((t) => t.segmentId);
    expect(ids).toEqual([...ids].sort((a, b) => ids.indexOf(a) - ids.indexOf(b)));
    expect(new Set(ids).size).toBe(4);
  });

  it('finalize() commits the utterance in progress; its final ends where the commit was made', async () => {
    const { provider } = await setup({ script: [{ text: 'hello world', start: 0.5, end: 3 }] });
    const stream = await provider.open(streamOptions());
    const log = record(stream);
    const started = next<{ timestamp: number }>(stream, 'speech_started');
    writeAudio(stream, 1);
    await started;
    const final = next<ProviderTranscript>(stream, 'transcript', (t) => t.isFinal);
    stream.finalize();
    expect(await final).toMatchObject({ text: 'hello world', start: 0.5, end: 1 });
    expect(log.utteranceEnds).toEqual([]);
    await stream.end();
  });

  it('with turn detection off, finalize() commits the buffered audio as one item', async () => {
    const { emulator, provider } = await setup({ settings: { turnDetection: null } });
    const stream = await provider.open(streamOptions());
    const log = record(stream);
    writeAudio(stream, 3.5);
    const final = next<ProviderTranscript>(stream, 'transcript', (t) => t.isFinal);
    stream.finalize();
    expect(await final).toMatchObject({
      text: 'hello world how are you today',
      start: 0,
      end: 3.5,
    });
    await stream.end();
    expect(emulator.connections[0]!.config).toMatchObject({
      audio: { input: { turn_detection: null } },
    });
    expect(log.speechStarted).toEqual([]);
    expect(log.finals()).toHaveLength(1);
  });

  it('end() commits the rest, waits for the last final, then closes the socket with 1000', async () => {
    const { emulator, provider } = await setup();
    const stream = await provider.open(streamOptions());
    const log = record(stream);
    let closedBeforeEndResolved = false;
    stream.once('close', () => {
      closedBeforeEndResolved = true;
    });
    // The last utterance ends at 3.0 s; the server's VAD would close it only at 3.3 s.
    writeAudio(stream, 3.1);
    await stream.end();
    expect(closedBeforeEndResolved).toBe(true);
    expect(log.finals().map((f) => f.text)).toEqual(['hello world', 'how are you today']);
    await vi.waitFor(() => expect(emulator.connections[0]!.closed?.code).toBe(1000));
    stream.write(new Uint8Array(4800)); // after close: a no-op
    stream.finalize();
  });

  it('end() stops waiting after endTimeoutMs and closes with the deltas received as the final', async () => {
    const { provider } = await setup({
      faults: { stallAfterAudioSeconds: 1.7 },
      settings: { endTimeoutMs: 300 },
    });
    const stream = await provider.open(streamOptions());
    const log = record(stream);
    writeAudio(stream, 2.5);
    await stream.end();
    expect(log.finals().map((f) => f.text)).toEqual(['hello']);
    expect(log.errors).toEqual([]);
  });

  it('reports a failed transcription as a non-fatal provider_error and goes on with the next item', async () => {
    const { provider } = await setup({ failTranscriptionOf: [1] });
    const stream = await provider.open(streamOptions());
    const log = record(stream);
    writeAudio(stream, 3.5);
    await stream.end();

    expect(log.errors).toHaveLength(1);
    expect(log.errors[0]).toMatchObject({
      code: 'provider_error',
      fatal: false,
      details: { vendorCode: 'transcription_failed' },
    });
    // Its interim was shown, so the failed segment is closed by an empty final.
    const failedSegment = log.errors[0]!.details?.segmentId;
    expect(log.finals().map((f) => [f.segmentId === failedSegment, f.text])).toEqual([
      [true, ''],
      [false, 'how are you today'],
    ]);
  });

  it('takes G.711 μ-law at 8 kHz as audio/pcmu, timed at 8000 bytes per second', async () => {
    const { emulator, provider } = await setup();
    const stream = await provider.open(streamOptions({ audio: MULAW8 }));
    const log = record(stream);
    writeAudio(stream, 3.5, MULAW8);
    await stream.end();
    expect(emulator.connections[0]!.config).toMatchObject({
      audio: { input: { format: { type: 'audio/pcmu' } } },
    });
    expect(emulator.connections[0]!.audioBytes).toBe(28000);
    expect(log.finals().map((f) => [f.text, f.start, f.end])).toEqual([
      ['hello world', 0.5, 1.5],
      ['how are you today', 2, 3],
    ]);
  });

  it('turns keywords into the prompt, or into `keywords` for models that take them', async () => {
    const { emulator, provider } = await setup({ settings: { prompt: 'A support call.' } });
    const first = await provider.open(streamOptions({ keywords: ['Earshot', 'PocketSphinx'] }));
    await first.end();
    const second = await provider.open(
      streamOptions({ keywords: ['Earshot'], providerOptions: { model: 'gpt-transcribe' } }),
    );
    await second.end();
    expect(emulator.connections[0]!.config).toMatchObject({
      audio: {
        input: {
          transcription: { prompt: 'A support call. Vocabulary: Earshot, PocketSphinx.' },
        },
      },
    });
    expect(emulator.connections[1]!.config).toMatchObject({
      audio: {
        input: {
          transcription: {
            model: 'gpt-transcribe',
            prompt: 'A support call.',
            keywords: ['Earshot'],
          },
        },
      },
    });
  });

  it('gives finals a confidence from token logprobs when asked to', async () => {
    const { provider } = await setup({ settings: { logprobs: true } });
    const stream = await provider.open(streamOptions());
    const log = record(stream);
    writeAudio(stream, 3.5);
    await stream.end();
    expect(log.finals()[0]!.confidence).toBeCloseTo(0.9, 5);
  });

  describe('open() failures', () => {
    it('rejects with provider_unavailable (auth) when the key is refused with HTTP 401', async () => {
      const { emulator } = await setup();
      const provider = createOpenAIProvider({
        apiKey: 'sk-wrong',
        baseURL: emulator.endpoint,
        ca: emulator.ca,
      });
      await expect(provider.open(streamOptions())).rejects.toMatchObject({
        code: 'provider_unavailable',
        fatal: true,
        details: { failure: 'auth', retryable: false, vendorCode: 401 },
      });
      expect(emulator.connections).toEqual([]);
    });

    it('rejects with provider_unavailable (unreachable) when nothing listens on the port', async () => {
      const port = await closedPort();
      resourcesBefore = countResources();
      const provider = createOpenAIProvider({
        apiKey: 'sk-any',
        baseURL: `https://127.0.0.1:${port}/v1`,
      });
      await expect(provider.open(streamOptions())).rejects.toMatchObject({
        code: 'provider_unavailable',
        details: { failure: 'unreachable', retryable: true },
      });
      await expectNoLeftovers();
    });

    it('rejects as unreachable (retryable) when the service answers the upgrade with 503', async () => {
      const { emulator, provider } = await setup({ faults: { refuseNext: 1 } });
      await expect(provider.open(streamOptions())).rejects.toMatchObject({
        details: { failure: 'unreachable', retryable: true, vendorCode: 503 },
      });
      const stream = await provider.open(streamOptions());
      await stream.end();
      expect(emulator.connections).toHaveLength(1);
    });

    it('rejects as unreachable when the server certificate is not trusted', async () => {
      const { emulator } = await setup();
      const provider = createOpenAIProvider({
        apiKey: emulator.apiKey,
        baseURL: emulator.endpoint,
      });
      await expect(provider.open(streamOptions())).rejects.toMatchObject({
        details: { failure: 'unreachable' },
      });
    });

    it('rejects with the abort reason when the signal aborts while connecting', async () => {
      const { provider } = await setup();
      const controller = new AbortController();
      const opening = provider.open(streamOptions(), controller.signal);
      const reason = new Error('caller hung up');
      controller.abort(reason);
      await expect(opening).rejects.toMatchObject({ code: 'provider_error', cause: reason });
    });

    it('rejects as auth without a key, before connecting', async () => {
      const saved = process.env.OPENAI_API_KEY;
      delete process.env.OPENAI_API_KEY;
      try {
        const provider = createOpenAIProvider({ baseURL: 'https://127.0.0.1:9/v1' });
        await expect(provider.open(streamOptions())).rejects.toMatchObject({
          details: { failure: 'auth' },
        });
      } finally {
        if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
      }
    });
  });

  describe('mid-stream failures', () => {
    async function failingStream(faults: EmulatorFaults) {
      const { provider } = await setup({ faults });
      const stream = await provider.open(streamOptions());
      const log = record(stream);
      writeAudio(stream, 2.5);
      await log.closed;
      return log;
    }

    it('reports a dropped socket as a fatal provider_error (dropped), then closes', async () => {
      const log = await failingStream({ dropAfterAudioSeconds: 1 });
      expect(log.errors).toHaveLength(1);
      expect(log.errors[0]).toMatchObject({
        code: 'provider_error',
        fatal: true,
        details: { failure: 'dropped', retryable: true, vendorCode: 1006 },
      });
    });

    it('reports a vendor error close (1011) as a fatal dropped failure carrying the close code', async () => {
      const log = await failingStream({
        closeAfterAudioSeconds: { seconds: 1, code: 1011, reason: 'internal error' },
      });
      expect(log.errors).toEqual([
        expect.objectContaining({
          fatal: true,
          details: expect.objectContaining({ failure: 'dropped', vendorCode: 1011 }),
        }),
      ]);
    });

    it('reports the session cap (session_expired) as a fatal stream-limit failure', async () => {
      const log = await failingStream({ maxStreamSeconds: 1 });
      expect(log.errors).toEqual([
        expect.objectContaining({
          code: 'provider_error',
          fatal: true,
          details: expect.objectContaining({
            failure: 'stream-limit',
            vendorCode: 'session_expired',
          }),
        }),
      ]);
    });

    it('reports an idle close by the service as a fatal timeout failure', async () => {
      const { provider } = await setup({ faults: { idleTimeoutSeconds: 0.2 } });
      const stream = await provider.open(streamOptions());
      const log = record(stream);
      await log.closed;
      expect(log.errors).toEqual([
        expect.objectContaining({
          fatal: true,
          details: expect.objectContaining({ failure: 'timeout' }),
        }),
      ]);
    });

    it('abort() closes at once and releases the socket', async () => {
      const { emulator, provider } = await setup();
      const stream = await provider.open(streamOptions());
      const log = record(stream);
      writeAudio(stream, 1);
      let closed = false;
      stream.once('close', () => {
        closed = true;
      });
      stream.abort('test');
      expect(closed).toBe(true);
      await log.closed;
      await vi.waitFor(() => expect(emulator.connections[0]!.closed).toBeDefined());
      expect(log.errors).toEqual([]);
    });
  });
});
