import { createServer, type Socket } from 'node:net';
import { EarshotError, PCM16_16K_MONO } from '@earshot/protocol';
import {
  countResources,
  type GoogleEmulator,
  resourcesAddedSince,
  type ScriptedUtterance,
  scriptedTranscriber,
  startGoogleEmulator,
  type Transcriber,
  until,
} from '@earshot/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ProviderTranscript, SttStream, SttStreamOptions } from '../stt-provider.js';
import {
  createGoogleProvider,
  GOOGLE_STREAM_LIMIT_SECONDS,
  type GoogleProviderSettings,
} from './google-provider.js';

const BYTES_PER_SECOND = 32_000; // pcm16, 16 kHz, mono
const SCRIPT: ScriptedUtterance[] = [
  { text: 'hello world again', start: 0.2, end: 1.0 },
  { text: 'second utterance here', start: 1.6, end: 2.4 },
];

const streamOptions: SttStreamOptions = {
  audio: PCM16_16K_MONO,
  language: 'en-US',
  interimResults: true,
  keywords: [],
  diarize: false,
};

/** Lets each test pick the script the emulator hears. */
let script: readonly ScriptedUtterance[] = SCRIPT;
const transcriber: Transcriber = { open: (format) => scriptedTranscriber(script).open(format) };

let emulator: GoogleEmulator;
beforeAll(async () => {
  emulator = await startGoogleEmulator({ transcriber });
});
afterAll(async () => {
  await emulator.close();
});

function provider(settings: GoogleProviderSettings = {}) {
  return createGoogleProvider({
    endpoint: emulator.endpoint,
    insecure: true,
    apiKey: emulator.apiKey,
    ...settings,
  });
}

interface Recorded {
  readonly transcripts: ProviderTranscript[];
  readonly events: string[];
  readonly errors: EarshotError[];
  closes: number;
}

function record(stream: SttStream): Recorded {
  const r: Recorded = { transcripts: [], events: [], errors: [], closes: 0 };
  stream.on('transcript', (t) => {
    r.transcripts.push(t);
    r.events.push(`${t.isFinal ? 'final' : 'interim'}:${t.segmentId}`);
  });
  stream.on('speech_started', (e) => r.events.push(`speech_started@${e.timestamp}`));
  stream.on('utterance_end', (e) => r.events.push(`utterance_end@${e.timestamp}`));
  stream.on('error', (e) => {
    r.errors.push(e);
    r.events.push(`error:${String(e.details?.failure ?? e.code)}`);
  });
  stream.on('close', () => {
    r.closes += 1;
    r.events.push('close');
  });
  return r;
}

const finals = (r: Recorded) => r.transcripts.filter((t) => t.isFinal);

/** Writes `seconds` of silence in 100 ms chunks, letting the loop turn between them. */
async function writeAudio(stream: SttStream, seconds: number, chunk = 3200): Promise<void> {
  const total = Math.round(seconds * BYTES_PER_SECOND);
  for (let at = 0; at < total; at += chunk) {
    stream.write(new Uint8Array(Math.min(chunk, total - at)));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function closed(stream: SttStream): Promise<void> {
  return new Promise((resolve) => stream.once('close', () => resolve()));
}

async function openRejection(
  promise: Promise<SttStream>,
): Promise<EarshotError & { details: Record<string, unknown> }> {
  const error = await promise.then(
    () => {
      throw new Error('open() resolved');
    },
    (e: unknown) => e,
  );
  expect(EarshotError.isInstance(error)).toBe(true);
  return error as EarshotError & { details: Record<string, unknown> };
}

/** A port that accepts TCP but never speaks HTTP/2. */
async function blackHole(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const accepted = new Set<Socket>();
  const server = createServer((socket) => accepted.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `127.0.0.1:${port}`,
    async close() {
      // grpc-js leaves a connection that never got HTTP/2 settings to its peer (unref'd):
      // the black hole's end of it is the test's to close.
      for (const socket of accepted) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let resourcesBefore: Map<string, number>;
beforeEach(() => {
  script = SCRIPT;
  emulator.faults = {};
  resourcesBefore = countResources();
});
afterEach(async () => {
  // No stream may leave a socket on the emulator or a handle in this process.
  const leftovers = () => resourcesAddedSince(resourcesBefore);
  await until(() => emulator.openSockets === 0 && leftovers().length === 0).catch(() => {
    throw new Error(`leaked: ${emulator.openSockets} emulator sockets, ${leftovers().join(', ')}`);
  });
});

describe('google provider: capabilities and config', () => {
  it('declares raw PCM16 mono and μ-law 8 kHz inputs, a 290 s stream cap and a 10 s idle timeout', () => {
    const { capabilities, name, specificationVersion } = createGoogleProvider({ apiKey: 'k' });
    expect(name).toBe('google');
    expect(specificationVersion).toBe('v1');
    expect(capabilities.inputFormats).toContainEqual({
      encoding: 'mulaw',
      sampleRate: 8000,
      channels: 1,
    });
    expect(capabilities.inputFormats).toContainEqual(PCM16_16K_MONO);
    expect(capabilities.inputFormats.every((f) => f.channels === 1)).toBe(true);
    expect(capabilities.maxStreamSeconds).toBe(290);
    expect(capabilities.maxStreamSeconds).toBeLessThan(GOOGLE_STREAM_LIMIT_SECONDS);
    expect(capabilities.idleTimeoutSeconds).toBe(10);
    expect(createGoogleProvider({ maxStreamSeconds: 4 }).capabilities.maxStreamSeconds).toBe(4);
  });

  it('sends the streaming config at open, before any audio, with the key as x-goog-api-key', async () => {
    const google = provider({
      model: 'phone_call',
      useEnhanced: true,
      speechContexts: [{ phrases: ['reminder', 'todo'], boost: 15 }],
    });
    const stream = await google.open({
      ...streamOptions,
      audio: { encoding: 'mulaw', sampleRate: 8000, channels: 1 },
      keywords: ['Earshot'],
    });
    // No keepalive message on Google: the resilient layer sends silence instead.
    expect(stream.keepAlive).toBeUndefined();
    const connection = emulator.connections.at(-1);
    expect(connection?.headers['x-goog-api-key']).toBe(emulator.apiKey);
    expect(connection?.audioBytes).toBe(0);
    expect(connection?.config).toMatchObject({
      interimResults: true,
      enableVoiceActivityEvents: true,
      config: {
        encoding: 'MULAW',
        sampleRateHertz: 8000,
        languageCode: 'en-US',
        model: 'phone_call',
        useEnhanced: true,
        enableWordTimeOffsets: true,
        enableAutomaticPunctuation: true,
        speechContexts: [
          { phrases: ['Earshot'], boost: 10 },
          { phrases: ['reminder', 'todo'], boost: 15 },
        ],
      },
    });
    await stream.end();
  });

  it('takes model and phrase hints from a stream’s providerOptions over the settings', async () => {
    const stream = await provider({ model: 'latest_long' }).open({
      ...streamOptions,
      providerOptions: { model: 'phone_call', speechContexts: [{ phrases: ['note'] }], bogus: 1 },
    });
    expect(emulator.connections.at(-1)?.config).toMatchObject({
      config: { model: 'phone_call', speechContexts: [{ phrases: ['note'] }] },
    });
    await stream.end();
  });

  it('reads GOOGLE_API_KEY, GOOGLE_SPEECH_ENDPOINT and GOOGLE_SPEECH_INSECURE=1 when settings leave them out', async () => {
    vi.stubEnv('GOOGLE_API_KEY', emulator.apiKey);
    vi.stubEnv('GOOGLE_SPEECH_ENDPOINT', emulator.endpoint);
    vi.stubEnv('GOOGLE_SPEECH_INSECURE', '1');
    try {
      const stream = await createGoogleProvider().open(streamOptions);
      expect(emulator.connections.at(-1)?.headers['x-goog-api-key']).toBe(emulator.apiKey);
      await stream.end();
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('refuses audio Google cannot take as it is, so the pipeline converts it', async () => {
    const error = await openRejection(
      provider().open({
        ...streamOptions,
        audio: { encoding: 'alaw', sampleRate: 8000, channels: 1 },
      }),
    );
    expect(error.code).toBe('unsupported_audio_format');
  });
});

describe('google provider: transcripts', () => {
  it('emits interims then exactly one final per utterance, with segment ids, stream times and words', async () => {
    const stream = await provider().open(streamOptions);
    const r = record(stream);
    await writeAudio(stream, 3);
    await stream.end();

    expect(r.errors).toEqual([]);
    const [first, second] = finals(r);
    expect(finals(r)).toHaveLength(2);
    expect(first?.text).toBe('hello world again');
    expect(second?.text).toBe('second utterance here');
    expect(first?.segmentId).not.toBe(second?.segmentId);
    expect(first?.start).toBeCloseTo(0.2, 3);
    expect(first?.end).toBeCloseTo(1.0, 3);
    expect(second?.start).toBeCloseTo(1.6, 3);
    expect(first?.confidence).toBeCloseTo(0.9, 3);
    expect(first?.words.map((w) => w.word)).toEqual(['hello', 'world', 'again']);
    expect(first?.words[1]?.start).toBeCloseTo(0.2 + 0.8 / 3, 3);
    expect(first?.words[2]?.end).toBeCloseTo(1.0, 3);

    const interim = r.transcripts.find((t) => !t.isFinal && t.segmentId === first?.segmentId);
    expect(interim?.text).toBe('hello world');
    expect(interim?.start).toBeCloseTo(0.2, 3);
    // One segment per utterance, interims before their final, in spoken order.
    expect(r.events.filter((e) => /^(interim|final)/.test(e))).toEqual([
      `interim:${first?.segmentId}`,
      `final:${first?.segmentId}`,
      `interim:${second?.segmentId}`,
      `final:${second?.segmentId}`,
    ]);
    expect(r.events.at(-1)).toBe('close');
    expect(r.closes).toBe(1);
  });

  it('maps SPEECH_ACTIVITY_BEGIN and END to speech_started and utterance_end at stream times', async () => {
    const stream = await provider().open(streamOptions);
    const r = record(stream);
    await writeAudio(stream, 1.5);
    await stream.end();
    expect(r.events.filter((e) => e.startsWith('speech_started'))).toEqual(['speech_started@0.2']);
    expect(r.events).toContain('utterance_end@1');
    expect(r.events.indexOf('speech_started@0.2')).toBeLessThan(
      r.events.indexOf(`final:${finals(r)[0]?.segmentId}`),
    );
  });

  it('leaves out interims below the configured stability, and all of them when none are asked for', async () => {
    const unstable = await provider({ minStability: 0.95 }).open(streamOptions);
    const r1 = record(unstable);
    await writeAudio(unstable, 1.5);
    await unstable.end();
    expect(r1.transcripts.map((t) => t.isFinal)).toEqual([true]);

    const none = await provider().open({ ...streamOptions, interimResults: false });
    const r2 = record(none);
    await writeAudio(none, 1.5);
    await none.end();
    expect(emulator.connections.at(-1)?.config).toMatchObject({ interimResults: false });
    expect(r2.transcripts.map((t) => t.isFinal)).toEqual([true]);
  });

  it('splits a write bigger than 25 KB into requests Google accepts', async () => {
    const stream = await provider().open(streamOptions);
    const r = record(stream);
    stream.write(new Uint8Array(3 * BYTES_PER_SECOND)); // 96 000 bytes in one write
    await stream.end();
    expect(r.errors).toEqual([]);
    expect(emulator.connections.at(-1)?.audioBytes).toBe(96_000);
    expect(finals(r).map((t) => t.text)).toEqual(['hello world again', 'second utterance here']);
  });

  it('labels speakers from speaker_label when diarizing', async () => {
    const stream = await provider().open({ ...streamOptions, diarize: true });
    const r = record(stream);
    await writeAudio(stream, 1.5);
    await stream.end();
    expect(emulator.connections.at(-1)?.config).toMatchObject({
      config: { diarizationConfig: { enableSpeakerDiarization: true } },
    });
    expect(finals(r)[0]?.speaker).toBe(1);
    expect(finals(r)[0]?.words.every((w) => w.speaker === 1)).toBe(true);
  });

  it('finalize() flushes nothing (Google cannot); end() half-closes and delivers the final', async () => {
    script = [{ text: 'long sentence still going', start: 0.2, end: 5 }];
    const stream = await provider().open(streamOptions);
    const r = record(stream);
    await writeAudio(stream, 3);
    stream.finalize();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(finals(r)).toEqual([]);
    expect(r.transcripts.some((t) => !t.isFinal)).toBe(true);

    await stream.end();
    expect(finals(r).map((t) => t.text)).toEqual(['long sentence still going']);
    expect(finals(r)[0]?.segmentId).toBe(r.transcripts[0]?.segmentId);
    expect(r.events.at(-1)).toBe('close');
    expect(emulator.connections.at(-1)?.closed).toEqual({ code: 0, reason: 'OK' });
  });

  it('ignores writes after end() and after close', async () => {
    const stream = await provider().open(streamOptions);
    await writeAudio(stream, 0.1);
    const ending = stream.end();
    stream.write(new Uint8Array(3200));
    await ending;
    stream.write(new Uint8Array(3200));
    stream.finalize();
    await stream.end();
    expect(emulator.connections.at(-1)?.audioBytes).toBe(3200);
  });

  it('abort() closes at once and cancels the call upstream', async () => {
    const stream = await provider().open(streamOptions);
    const r = record(stream);
    await writeAudio(stream, 0.5);
    stream.abort('test');
    expect(r.events).toEqual(['speech_started@0.2', 'close']);
    await until(() => emulator.connections.at(-1)?.closed !== undefined);
    expect(emulator.connections.at(-1)?.closed?.code).toBe(1); // CANCELLED
  });
});

describe('google provider: keepalive and limits', () => {
  it('fails with timeout when no audio arrives for Google’s idle timeout (Audio Timeout Error)', async () => {
    emulator.faults.idleTimeoutSeconds = 0.3;
    const stream = await provider().open(streamOptions);
    const r = record(stream);
    await writeAudio(stream, 0.1);
    await closed(stream);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]?.details).toMatchObject({
      failure: 'timeout',
      retryable: true,
      vendorCode: 11,
    });
    expect(r.errors[0]?.message).toMatch(/Audio Timeout Error/);
    expect(r.events.slice(-2)).toEqual(['error:timeout', 'close']);
  });

  it('stays open past the idle timeout while silence is written (silence is the keepalive)', async () => {
    emulator.faults.idleTimeoutSeconds = 0.4;
    script = [];
    const stream = await provider().open(streamOptions);
    const r = record(stream);
    for (let i = 0; i < 10; i++) {
      stream.write(new Uint8Array(3200));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(r.errors).toEqual([]);
    await stream.end();
    expect(r.events).toEqual(['close']);
  });

  it('reports Google’s stream cap (OUT_OF_RANGE) as stream-limit, with the cap in the message', async () => {
    emulator.faults.maxStreamSeconds = 1;
    const stream = await provider().open(streamOptions);
    const r = record(stream);
    await writeAudio(stream, 1.2);
    await closed(stream);
    expect(r.errors[0]?.details).toMatchObject({ failure: 'stream-limit', retryable: true });
    expect(r.errors[0]?.message).toMatch(/Exceeded maximum allowed stream duration of 1 seconds/);
  });

  it('fails end() with timeout when Google stalls and never ends the call', async () => {
    emulator.faults.stallAfterAudioSeconds = 0;
    const stream = await provider({ closeTimeoutMs: 300 }).open(streamOptions);
    const r = record(stream);
    await writeAudio(stream, 1.5);
    await stream.end();
    expect(r.transcripts).toEqual([]);
    expect(r.events).toEqual(['error:timeout', 'close']);
  });
});

describe('google provider: failures', () => {
  it('rejects open with auth (provider_unavailable) when the key is refused', async () => {
    const error = await openRejection(provider({ apiKey: 'wrong-key' }).open(streamOptions));
    expect(error.code).toBe('provider_unavailable');
    expect(error.details).toMatchObject({ failure: 'auth', retryable: false, vendorCode: 16 });
    expect(emulator.connections.at(-1)?.closed?.code).toBe(16);
  });

  it('rejects open with unreachable when nothing listens on the port', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const error = await openRejection(
      provider({ endpoint: `127.0.0.1:${port}`, connectTimeoutMs: 3000 }).open(streamOptions),
    );
    expect(error.code).toBe('provider_unavailable');
    expect(error.details).toMatchObject({
      failure: 'unreachable',
      retryable: true,
      vendorCode: 14,
    });
  });

  it('rejects open with unreachable when Google answers UNAVAILABLE', async () => {
    emulator.faults.refuseNext = 1;
    const error = await openRejection(provider().open(streamOptions));
    expect(error.details).toMatchObject({ failure: 'unreachable', vendorCode: 14 });
    const stream = await provider().open(streamOptions);
    await stream.end();
  });

  it('rejects open with rejected when Google refuses the config (INVALID_ARGUMENT)', async () => {
    const error = await openRejection(provider().open({ ...streamOptions, language: '' }));
    expect(error.code).toBe('provider_error');
    expect(error.details).toMatchObject({ failure: 'rejected', retryable: false, vendorCode: 3 });
  });

  it('rejects open at once when its signal is already aborted, and when it aborts while opening', async () => {
    const aborted = await openRejection(provider().open(streamOptions, AbortSignal.abort()));
    expect(aborted.details).toMatchObject({ aborted: true });
    const hole = await blackHole();
    const controller = new AbortController();
    const opening = provider({ endpoint: hole.endpoint }).open(streamOptions, controller.signal);
    setTimeout(() => controller.abort(), 100);
    expect((await openRejection(opening)).details).toMatchObject({ aborted: true });
    await hole.close();
  });

  it('rejects open with unreachable when the endpoint never answers within connectTimeoutMs', async () => {
    const hole = await blackHole();
    const started = Date.now();
    const error = await openRejection(
      provider({ endpoint: hole.endpoint, connectTimeoutMs: 300 }).open(streamOptions),
    );
    expect(error.details).toMatchObject({ failure: 'unreachable', retryable: true });
    expect(Date.now() - started).toBeLessThan(2000);
    await hole.close();
  });

  it('reports a connection dropped mid-stream as a fatal dropped provider_error, then closes', async () => {
    emulator.faults.dropAfterAudioSeconds = 0.5;
    const stream = await provider().open(streamOptions);
    const r = record(stream);
    await writeAudio(stream, 1);
    await until(() => r.closes === 1);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]?.code).toBe('provider_error');
    expect(r.errors[0]?.fatal).toBe(true);
    expect(r.errors[0]?.details).toMatchObject({
      failure: 'dropped',
      retryable: true,
      vendorCode: 14,
    });
    expect(r.events.slice(-2)).toEqual(['error:dropped', 'close']);
    await stream.end(); // already closed: resolves at once
  });

  it('maps an error status Google ends the call with to its failure kind', async () => {
    emulator.faults.closeAfterAudioSeconds = { seconds: 0.3, code: 13, reason: 'Internal error.' };
    const internal = await provider().open(streamOptions);
    const r1 = record(internal);
    await writeAudio(internal, 0.5);
    await until(() => r1.closes === 1);
    expect(r1.errors[0]?.details).toMatchObject({ failure: 'dropped', vendorCode: 13 });

    emulator.faults.closeAfterAudioSeconds = {
      seconds: 0.3,
      code: 7,
      reason: 'Permission denied.',
    };
    const denied = await provider().open(streamOptions);
    const r2 = record(denied);
    await writeAudio(denied, 0.5);
    await until(() => r2.closes === 1);
    expect(r2.errors[0]?.details).toMatchObject({
      failure: 'auth',
      retryable: false,
      vendorCode: 7,
    });
  });
});
