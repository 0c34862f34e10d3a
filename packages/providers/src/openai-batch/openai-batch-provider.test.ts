import { createHook } from 'node:async_hooks';
import { PCM16_16K_MONO } from '@earshot/protocol';
import {
  closedPort,
  type EmulatorAudioFormat,
  type OpenAIBatchEmulator,
  scriptedTranscriber,
  startOpenAIBatchEmulator,
  type Transcriber,
  type TranscriberEvents,
  type TranscriberSession,
} from '@earshot/testing';
import { EventEmitter } from 'eventemitter3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProviderTranscript, SttStream, SttStreamOptions } from '../stt-provider.js';
import { openWebRtcVadCount } from '../vad/index.js';
import { pcm, silence, voice, writeLive } from './__fixtures__/synthetic-voice.js';
import {
  createOpenAIBatchProvider,
  type OpenAIBatchProviderSettings,
} from './openai-batch-provider.js';

const RATE = 16000;
const OPEN: SttStreamOptions = {
  audio: PCM16_16K_MONO,
  language: 'en-US',
  interimResults: false,
  keywords: [],
  diarize: false,
};

interface Recorded {
  events: string[];
  finals: ProviderTranscript[];
  speechStarts: number[];
  utteranceEnds: Array<{ timestamp: number; segmentId?: string }>;
  errors: Array<{ code: string; fatal: boolean; details: Record<string, unknown> | undefined }>;
  closed: Promise<void>;
}

function record(stream: SttStream): Recorded {
  const r: Recorded = {
    events: [],
    finals: [],
    speechStarts: [],
    utteranceEnds: [],
    errors: [],
    closed: new Promise((resolve) => stream.once('close', () => resolve())),
  };
  stream.on('transcript', (t) => {
    r.events.push(`final ${t.segmentId}`);
    if (t.isFinal) r.finals.push(t);
  });
  stream.on('speech_started', (e) => {
    r.events.push('speech_started');
    r.speechStarts.push(e.timestamp);
  });
  stream.on('utterance_end', (e) => {
    r.events.push(`utterance_end ${e.segmentId}`);
    r.utteranceEnds.push(e);
  });
  stream.on('error', (e) => {
    r.events.push(`error ${e.code}`);
    r.errors.push({ code: e.code, fatal: e.fatal, details: e.details });
  });
  stream.on('close', () => r.events.push('close'));
  return r;
}

/**
 * A transcriber that names each request by its length, so a test knows which utterance an
 * answer belongs to whatever order the requests arrive in, and answers long ones late.
 * Inside, each request is heard by a {@link scriptedTranscriber}.
 */
function byLength(
  pick: (seconds: number) => { text: string; delayMs?: number },
  inFlight?: { now: number; max: number },
): Transcriber {
  return {
    open(format: EmulatorAudioFormat): TranscriberSession {
      let bytes = 0;
      return new (class extends EventEmitter<TranscriberEvents> {
        get audioSeconds() {
          return bytes / (format.sampleRate * 2);
        }
        write(chunk: Uint8Array) {
          bytes += chunk.byteLength;
        }
        finalize() {}
        async end() {
          const seconds = this.audioSeconds;
          const { text, delayMs = 0 } = pick(seconds);
          if (inFlight) inFlight.max = Math.max(inFlight.max, ++inFlight.now);
          await new Promise((resolve) => setTimeout(resolve, delayMs));
          if (inFlight) inFlight.now--;
          const script = [{ text, start: 0.1, end: seconds - 0.1 }];
          const scripted = scriptedTranscriber(script).open(format);
          scripted.on('utterance', (u) => this.emit('utterance', u));
          scripted.write(new Uint8Array(bytes));
          await scripted.end();
          scripted.close();
        }
        close() {
          this.removeAllListeners();
        }
      })();
    },
  };
}

/** Sockets and servers open now (timers are tracked by {@link liveTimers}). */
const handles = () =>
  process
    .getActiveResourcesInfo()
    .filter((r) => r !== 'Timeout' && r !== 'Immediate' && r !== 'TTYWrap')
    .sort();

/**
 * Timers created while {@link trackTimers} is on and not yet fired or cleared. Tracked by
 * async id rather than counted, because vitest's own timers come and go during a test.
 */
const liveTimers = new Map<number, NodeJS.Timeout>();
let trackTimers = false;
createHook({
  init(id, type, _trigger, resource) {
    if (trackTimers && type === 'Timeout') liveTimers.set(id, resource as NodeJS.Timeout);
  },
  destroy(id) {
    liveTimers.delete(id);
  },
}).enable();

/**
 * Waits (with `setImmediate`, which adds no timer) until the handles match `expected` and no
 * tracked timer is alive, or 2 s have passed; returns what is left.
 */
async function leftovers(expected: string[]): Promise<{ handles: string[]; timers: number }> {
  const deadline = Date.now() + 2000;
  // Unref'd timers are Node's own caches (the HTTP date, undici's clock): they keep nothing
  // alive and go by themselves.
  const timers = () => [...liveTimers.values()].filter((t) => t.hasRef()).length;
  const settled = () => JSON.stringify(handles()) === JSON.stringify(expected) && timers() === 0;
  while (!settled() && Date.now() < deadline) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { handles: handles(), timers: timers() };
}

describe('openai-batch provider', () => {
  let emulator: OpenAIBatchEmulator | undefined;
  let vadsBefore: number;

  beforeEach(() => {
    vadsBefore = openWebRtcVadCount();
  });

  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
    expect(openWebRtcVadCount()).toBe(vadsBefore);
  });

  /**
   * Runs a test body, closes the emulator, then checks that no socket or timer outlived it.
   * Both snapshots are taken inside the test, where vitest's own timers are the same.
   */
  function leakFree(body: () => Promise<void>): () => Promise<void> {
    return async () => {
      const before = handles();
      liveTimers.clear();
      trackTimers = true;
      try {
        await body();
        await emulator?.close();
        emulator = undefined;
        // Keep-alive sockets of Node's fetch close once the emulator has dropped them.
        expect(await leftovers(before)).toEqual({ handles: before, timers: 0 });
      } finally {
        trackTimers = false;
      }
    };
  }

  async function start(
    transcriber: Transcriber = scriptedTranscriber([{ text: 'hello world', start: 0.2, end: 0.9 }]),
    options: { restrictedApiKey?: string } = {},
  ): Promise<OpenAIBatchEmulator> {
    emulator = await startOpenAIBatchEmulator({ transcriber, ...options });
    return emulator;
  }

  function provider(settings: OpenAIBatchProviderSettings = {}) {
    return createOpenAIBatchProvider({
      apiKey: emulator?.apiKey ?? 'test-key',
      baseURL: emulator?.endpoint ?? 'http://127.0.0.1:9/v1',
      ...settings,
    });
  }

  it('declares pcm16 16 kHz mono input, finals only, word timings with whisper-1', () => {
    const { capabilities, name, specificationVersion } = provider();
    expect({ name, specificationVersion }).toEqual({
      name: 'openai-batch',
      specificationVersion: 'v1',
    });
    expect(capabilities.inputFormats).toEqual([PCM16_16K_MONO]);
    expect(capabilities.interimResults).toBe(false);
    expect(capabilities.wordTimings).toBe(true);
    expect(provider({ model: 'gpt-4o-transcribe' }).capabilities.wordTimings).toBe(false);
  });

  it(
    'posts each utterance the detector cuts as a WAV and emits its final on the stream clock',
    leakFree(async () => {
      const emu = await start();
      const stream = await provider().open(OPEN);
      const r = record(stream);
      writeLive(stream, pcm(silence(0.5), voice(1), silence(1), voice(0.8, 7), silence(1)));
      await stream.end();
      await r.closed;

      expect(r.events).toEqual([
        'speech_started',
        'speech_started',
        `final ${r.finals[0]?.segmentId}`,
        `utterance_end ${r.finals[0]?.segmentId}`,
        `final ${r.finals[1]?.segmentId}`,
        `utterance_end ${r.finals[1]?.segmentId}`,
        'close',
      ]);
      expect(r.finals.map((f) => f.segmentId)).toEqual([
        expect.stringMatching(/^openai-batch-.+-1-1$/),
        expect.stringMatching(/^openai-batch-.+-1-2$/),
      ]);
      const [first, second] = r.finals;
      expect(first?.text).toBe('hello world');
      // The detector placed the speech; the clip begins 0.3 s earlier (pre-roll), so the words
      // the emulator heard 0.2 s into the file sit 0.1 s before the speech start.
      expect(r.speechStarts[0]).toBeCloseTo(0.48, 2);
      expect(first?.start).toBeCloseTo(0.38, 2);
      expect(first?.end).toBeCloseTo(1.5, 2);
      expect(first?.words).toEqual([
        { word: 'hello', start: expect.closeTo(0.38, 2), end: expect.closeTo(0.73, 2) },
        { word: 'world', start: expect.closeTo(0.73, 2), end: expect.closeTo(1.08, 2) },
      ]);
      expect(first?.confidence).toBeCloseTo(0.9, 2);
      expect(second?.start).toBeCloseTo(r.speechStarts[1]! - 0.1, 2);
      expect(r.utteranceEnds[0]?.timestamp).toBeCloseTo(1.5, 2);

      expect(emu.connections).toHaveLength(2);
      const request = emu.connections[0]!;
      expect(request.headers.authorization).toBe('Bearer test-key');
      expect(request.config).toEqual({
        model: 'whisper-1',
        response_format: 'verbose_json',
        'timestamp_granularities[]': ['word', 'segment'],
        language: 'en',
      });
      // 0.3 s pre-roll + 1.02 s of speech + 0.3 s post-roll.
      expect(request.audioBytes / (RATE * 2)).toBeCloseTo(1.62, 2);
    }),
  );

  it(
    'emits finals in spoken order when a later utterance is answered first',
    leakFree(async () => {
      await start(
        byLength((seconds) =>
          seconds > 1.5 ? { text: 'the long one', delayMs: 400 } : { text: 'short' },
        ),
      );
      const stream = await provider().open(OPEN);
      const r = record(stream);
      writeLive(stream, pcm(silence(0.3), voice(1.5), silence(1), voice(0.5, 3), silence(1)));
      await stream.end();
      expect(r.finals.map((f) => f.text)).toEqual(['the long one', 'short']);
      expect(r.finals[0]!.end).toBeLessThan(r.finals[1]!.start);
    }),
  );

  it(
    'keeps at most `concurrency` requests in flight',
    leakFree(async () => {
      const inFlight = { now: 0, max: 0 };
      await start(byLength(() => ({ text: 'again', delayMs: 300 }), inFlight));
      const stream = await provider({ concurrency: 2 }).open(OPEN);
      const r = record(stream);
      const utterance = pcm(voice(0.6), silence(0.8));
      writeLive(stream, pcm(silence(0.3)));
      for (let i = 0; i < 4; i++) writeLive(stream, utterance);
      await stream.end();
      expect(r.finals.map((f) => f.text)).toEqual(['again', 'again', 'again', 'again']);
      expect(inFlight.max).toBe(2);
    }),
  );

  it(
    'finalize() cuts the utterance in progress and transcribes it without waiting for a pause',
    leakFree(async () => {
      await start();
      const stream = await provider().open(OPEN);
      const r = record(stream);
      const final = new Promise<ProviderTranscript>((resolve) => stream.on('transcript', resolve));
      writeLive(stream, pcm(silence(0.3), voice(1.2)));
      stream.finalize();
      const t = await final;
      expect(t.text).toBe('hello world');
      expect(t.end).toBeCloseTo(1.5, 2);
      // Not a pause: the speaker's turn has not ended.
      expect(r.utteranceEnds).toEqual([]);
      await stream.end();
    }),
  );

  it(
    'end() posts the speech still open, waits for its final, then closes',
    leakFree(async () => {
      await start();
      const stream = await provider().open(OPEN);
      const r = record(stream);
      writeLive(stream, pcm(silence(0.3), voice(1.2)));
      await stream.end();
      expect(r.events).toEqual(['speech_started', `final ${r.finals[0]?.segmentId}`, 'close']);
    }),
  );

  it(
    'cuts speech longer than maxUtteranceSeconds into utterances that follow on',
    leakFree(async () => {
      const emu = await start(byLength(() => ({ text: 'more' })));
      const stream = await provider({ maxUtteranceSeconds: 1 }).open(OPEN);
      const r = record(stream);
      writeLive(stream, pcm(silence(0.3), voice(3.2), silence(1)));
      await stream.end();
      expect(emu.connections.length).toBeGreaterThanOrEqual(3);
      for (const request of emu.connections) {
        expect(request.audioBytes / (RATE * 2)).toBeLessThanOrEqual(1);
      }
      expect(r.finals.length).toBe(emu.connections.length);
      // No audio falls between two cuts.
      for (let i = 1; i < r.finals.length; i++) {
        expect(r.finals[i]!.start).toBeLessThanOrEqual(r.finals[i - 1]!.end + 0.1);
      }
    }),
  );

  it(
    'sends no request for silence and closes at end()',
    leakFree(async () => {
      const emu = await start();
      const stream = await provider().open(OPEN);
      const r = record(stream);
      writeLive(stream, pcm(silence(2)));
      await stream.end();
      expect(emu.connections).toEqual([]);
      expect(r.events).toEqual(['close']);
    }),
  );

  it(
    'asks other models for json (text only) and passes the prompt and keywords',
    leakFree(async () => {
      const emu = await start();
      const stream = await provider({ model: 'gpt-4o-transcribe', prompt: 'A support call.' }).open(
        { ...OPEN, keywords: ['Earshot', 'Deepgram'] },
      );
      const r = record(stream);
      writeLive(stream, pcm(silence(0.3), voice(1), silence(1)));
      await stream.end();
      expect(emu.connections[0]?.config).toEqual({
        model: 'gpt-4o-transcribe',
        response_format: 'json',
        language: 'en',
        prompt: 'A support call. Earshot, Deepgram',
      });
      expect(r.finals[0]).toMatchObject({ text: 'hello world', words: [] });
    }),
  );

  describe('failures', () => {
    it(
      'rejects open() with auth when the key is refused by the model lookup',
      leakFree(async () => {
        const emu = await start();
        await expect(provider({ apiKey: 'sk-wrong-key' }).open(OPEN)).rejects.toMatchObject({
          code: 'provider_unavailable',
          details: { failure: 'auth', retryable: false, vendorCode: 401 },
        });
        expect(emu.connections).toEqual([]);
      }),
    );

    it(
      'opens with a restricted key that may transcribe but not read models',
      leakFree(async () => {
        await start(undefined, { restrictedApiKey: 'sk-restricted' });
        const stream = await provider({ apiKey: 'sk-restricted' }).open(OPEN);
        const r = record(stream);
        writeLive(stream, pcm(silence(0.3), voice(1), silence(1)));
        await stream.end();
        expect(r.errors).toEqual([]);
        expect(r.finals).toHaveLength(1);
      }),
    );

    it(
      'rejects open() with rejected when the model does not exist',
      leakFree(async () => {
        await start();
        await expect(provider({ model: 'whisper-9' }).open(OPEN)).rejects.toMatchObject({
          code: 'provider_error',
          details: { failure: 'rejected', retryable: false, vendorCode: 404 },
        });
      }),
    );

    it(
      'rejects open() with unreachable (retryable) when OpenAI is overloaded (503) at open',
      leakFree(async () => {
        const emu = await start();
        emu.faults = { refuseNext: 1 };
        await expect(provider().open(OPEN)).rejects.toMatchObject({
          code: 'provider_unavailable',
          details: { failure: 'unreachable', retryable: true, vendorCode: 503 },
        });
      }),
    );

    it(
      'with verifyOnOpen false, fails the stream with auth at the first utterance',
      leakFree(async () => {
        await start();
        const stream = await provider({ apiKey: 'sk-wrong-key', verifyOnOpen: false }).open(OPEN);
        const r = record(stream);
        writeLive(stream, pcm(silence(0.3), voice(1), silence(1)));
        await r.closed;
        expect(r.errors).toEqual([
          {
            code: 'provider_unavailable',
            fatal: true,
            details: expect.objectContaining({
              failure: 'auth',
              retryable: false,
              vendorCode: 401,
            }),
          },
        ]);
        expect(r.events.at(-1)).toBe('close');
      }),
    );

    it(
      'rejects open() with auth when no key is set anywhere',
      leakFree(async () => {
        const saved = process.env.OPENAI_API_KEY;
        delete process.env.OPENAI_API_KEY;
        try {
          await expect(provider({ apiKey: '' }).open(OPEN)).rejects.toMatchObject({
            code: 'provider_unavailable',
            details: { failure: 'auth' },
          });
        } finally {
          if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
        }
      }),
    );

    it(
      'rejects open() with unreachable when nothing listens',
      leakFree(async () => {
        const port = await closedPort();
        await expect(
          provider({ baseURL: `http://127.0.0.1:${port}/v1` }).open(OPEN),
        ).rejects.toMatchObject({
          code: 'provider_unavailable',
          details: expect.objectContaining({ failure: 'unreachable', retryable: true }),
        });
      }),
    );

    it(
      'fails with dropped (retryable) when the socket is destroyed mid-request, after the finals before it',
      leakFree(async () => {
        const emu = await start();
        emu.faults = { dropAfterAudioSeconds: 2 };
        const stream = await provider({ concurrency: 1 }).open(OPEN);
        const r = record(stream);
        writeLive(stream, pcm(silence(0.3), voice(1), silence(1), voice(1, 5), silence(1)));
        await r.closed;
        expect(r.finals).toHaveLength(1);
        expect(r.errors).toEqual([
          {
            code: 'provider_error',
            fatal: true,
            details: expect.objectContaining({ failure: 'dropped', retryable: true }),
          },
        ]);
        expect(emu.connections[1]?.closed).toEqual({ code: 0, reason: 'dropped' });
      }),
    );

    it.each([
      [500, 'provider_error', 'dropped', true],
      [503, 'provider_error', 'dropped', true],
      [429, 'capacity', 'rate-limited', true],
      [400, 'provider_error', 'rejected', false],
    ])('maps an HTTP %i answer to %s/%s', (status, code, failure, retryable) =>
      leakFree(async () => {
        const emu = await start();
        emu.faults = { closeAfterAudioSeconds: { seconds: 0.5, code: status, reason: 'boom' } };
        const stream = await provider().open(OPEN);
        const r = record(stream);
        writeLive(stream, pcm(silence(0.3), voice(1), silence(1)));
        await r.closed;
        expect(r.errors).toEqual([
          {
            code,
            fatal: true,
            details: expect.objectContaining({ failure, retryable, vendorCode: status }),
          },
        ]);
      })(),
    );

    it(
      'fails with dropped when OpenAI is overloaded (503) mid-stream',
      leakFree(async () => {
        const emu = await start();
        const stream = await provider().open(OPEN);
        emu.faults = { refuseNext: 1 };
        const r = record(stream);
        writeLive(stream, pcm(silence(0.3), voice(1), silence(1)));
        await r.closed;
        expect(r.errors[0]?.details).toMatchObject({ failure: 'dropped', vendorCode: 503 });
      }),
    );

    it(
      'fails with timeout when a request is not answered within requestTimeoutSeconds',
      leakFree(async () => {
        const emu = await start();
        emu.faults = { stallAfterAudioSeconds: 0.5 };
        const stream = await provider({ requestTimeoutSeconds: 0.5 }).open(OPEN);
        const r = record(stream);
        writeLive(stream, pcm(silence(0.3), voice(1), silence(1)));
        await r.closed;
        expect(r.errors[0]).toMatchObject({
          code: 'provider_error',
          details: { failure: 'timeout', retryable: true },
        });
      }),
    );
  });

  describe('lifecycle', () => {
    it(
      'abort() cancels the requests in flight and closes at once',
      leakFree(async () => {
        const emu = await start();
        emu.faults = { stallAfterAudioSeconds: 0.5 };
        const stream = await provider().open(OPEN);
        const r = record(stream);
        writeLive(stream, pcm(silence(0.3), voice(1), silence(1)));
        await expect.poll(() => emu.connections.length).toBe(1);
        stream.abort('test');
        await r.closed;
        expect(r.events).toEqual(['speech_started', 'close']);
        await expect
          .poll(() => emu.connections[0]?.closed)
          .toEqual({ code: 0, reason: 'no answer' });
      }),
    );

    it(
      'ignores writes, finalize and end after close',
      leakFree(async () => {
        await start();
        const stream = await provider().open(OPEN);
        const r = record(stream);
        stream.abort();
        stream.write(pcm(voice(1)));
        stream.finalize();
        await stream.end();
        expect(r.events).toEqual(['close']);
      }),
    );

    it(
      'takes audio split at odd byte boundaries',
      leakFree(async () => {
        const emu = await start();
        const stream = await provider().open(OPEN);
        const r = record(stream);
        const bytes = pcm(silence(0.3), voice(1), silence(1));
        for (let at = 0; at < bytes.byteLength; at += 333)
          stream.write(bytes.subarray(at, at + 333));
        await stream.end();
        expect(r.finals).toHaveLength(1);
        expect(emu.connections).toHaveLength(1);
      }),
    );

    it(
      'rejects open() for audio other than pcm16 16 kHz mono',
      leakFree(async () => {
        await expect(
          provider().open({ ...OPEN, audio: { encoding: 'pcm16', sampleRate: 8000, channels: 1 } }),
        ).rejects.toMatchObject({ code: 'unsupported_audio_format' });
      }),
    );

    it(
      'rejects open() when its signal is already aborted',
      leakFree(async () => {
        await expect(provider().open(OPEN, AbortSignal.abort())).rejects.toMatchObject({
          fatal: true,
        });
      }),
    );
  });
});
