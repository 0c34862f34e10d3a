import { type AudioFormat, EarshotError, PCM16_16K_MONO } from '@earshot/protocol';
import {
  closedPort,
  countResources,
  type DeepgramEmulator,
  type DeepgramEmulatorOptions,
  resourcesAddedSince,
  type ScriptedUtterance,
  scriptedTranscriber,
  startDeepgramEmulator,
  startWsEmulatorServer,
  until,
} from '@earshot/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProviderTranscript, SttStream, SttStreamOptions } from '../stt-provider.js';
import { createDeepgramProvider, type DeepgramProviderSettings } from './deepgram-provider.js';

const streamOptions: SttStreamOptions = {
  audio: PCM16_16K_MONO,
  language: 'en-US',
  interimResults: true,
  keywords: [],
  diarize: false,
};

const SCRIPT: readonly ScriptedUtterance[] = [
  { text: 'hello world', start: 0.2, end: 1.0 },
  { text: 'how are you today', start: 1.5, end: 2.5 },
];

interface Run {
  readonly transcripts: ProviderTranscript[];
  readonly errors: EarshotError[];
  readonly events: string[];
  closed: boolean;
}

function listen(stream: SttStream): Run {
  const run: Run = { transcripts: [], errors: [], events: [], closed: false };
  stream.on('transcript', (t) => {
    run.transcripts.push(t);
    run.events.push(`${t.isFinal ? 'final' : 'interim'}:${t.segmentId}`);
  });
  stream.on('speech_started', (e) => run.events.push(`speech_started:${e.timestamp}`));
  stream.on('utterance_end', (e) => run.events.push(`utterance_end:${e.segmentId}`));
  stream.on('error', (e) => run.errors.push(e));
  stream.on('close', () => {
    run.closed = true;
    run.events.push('close');
  });
  return run;
}

const finals = (run: Run) => run.transcripts.filter((t) => t.isFinal);

/** Writes `seconds` of silence in 100 ms chunks (the emulator's script decides what is "said"). */
function writeAudio(stream: SttStream, seconds: number, format: AudioFormat = PCM16_16K_MONO) {
  const chunk = new Uint8Array((format.sampleRate * (format.encoding === 'pcm16' ? 2 : 1)) / 10);
  for (let t = 0; t < seconds - 1e-9; t += 0.1) stream.write(chunk);
}

/** Resolves once `check` holds, polling; fails after `timeoutMs`. */
const HANDLE_KINDS = ['TCPSocketWrap', 'Timeout'];

describe('the deepgram provider, through @deepgram/sdk v5 against the Deepgram emulator', () => {
  let emulator: DeepgramEmulator | undefined;
  let streams: SttStream[] = [];
  let baseline: Map<string, number> = new Map();

  async function start(
    script: readonly ScriptedUtterance[] = SCRIPT,
    options: Partial<DeepgramEmulatorOptions> = {},
  ): Promise<DeepgramEmulator> {
    emulator = await startDeepgramEmulator({
      transcriber: scriptedTranscriber(script),
      ...options,
    });
    return emulator;
  }

  function provider(settings: DeepgramProviderSettings = {}) {
    if (!emulator) throw new Error('start the emulator first');
    return createDeepgramProvider({
      apiKey: emulator.apiKey,
      baseUrl: emulator.endpoint,
      closeTimeoutMs: 2000,
      ...settings,
    });
  }

  async function open(settings: DeepgramProviderSettings = {}, options = streamOptions) {
    const stream = await provider(settings).open(options);
    streams.push(stream);
    return stream;
  }

  beforeEach(() => {
    baseline = countResources(HANDLE_KINDS);
  });

  afterEach(async () => {
    for (const stream of streams) stream.abort('test over');
    streams = [];
    const current = emulator;
    emulator = undefined;
    if (!current) return;
    // Every connection must have been closed by the client or the emulator, none left open.
    await until(() => current.connections.every((c) => c.closed !== undefined));
    await current.close();
    // No socket or timer of a stream (nor an SDK reconnect timer) outlives it.
    await until(() => resourcesAddedSince(baseline, HANDLE_KINDS).length === 0);
  });

  describe('transcripts', () => {
    it('streams interims and exactly one final per utterance, under one segment id each', async () => {
      await start();
      const stream = await open();
      const run = listen(stream);
      writeAudio(stream, 3.6);
      await until(
        () => finals(run).length === 2 && run.events.some((e) => e.startsWith('utterance_end')),
      );

      const [first, second] = finals(run);
      expect(first?.text).toBe('hello world');
      expect(second?.text).toBe('how are you today');
      expect(first?.segmentId).not.toBe(second?.segmentId);
      for (const final of [first, second]) {
        const interims = run.transcripts.filter(
          (t) => !t.isFinal && t.segmentId === final?.segmentId,
        );
        expect(interims.length).toBeGreaterThan(0);
        // Interims come before their final.
        expect(run.events.indexOf(`final:${final?.segmentId}`)).toBeGreaterThan(
          run.events.indexOf(`interim:${final?.segmentId}`),
        );
      }
      expect(run.errors).toEqual([]);
    });

    it('times transcripts and words in seconds of the audio written to the stream', async () => {
      await start();
      const stream = await open({ options: { smart_format: true } });
      const run = listen(stream);
      writeAudio(stream, 3);
      await until(() => finals(run).length === 2);
      const [first, second] = finals(run);
      expect(first).toMatchObject({ start: 0.2, end: 1.0, confidence: 0.9 });
      expect(second?.start).toBeCloseTo(1.5, 5);
      expect(second?.end).toBeCloseTo(2.5, 5);
      expect(first?.words.map((w) => w.word)).toEqual(['Hello', 'world.']);
      expect(first?.words[0]).toMatchObject({ start: 0.2, confidence: 0.9 });
      expect(first?.words[0]?.end).toBeCloseTo(0.6, 5);
      expect(first?.words[1]?.start).toBeCloseTo(0.6, 5);
      expect(first?.words[1]?.end).toBeCloseTo(1.0, 5);
    });

    it('reports speech_started (vad_events) and utterance_end (UtteranceEnd) with the segment that ended', async () => {
      await start();
      const stream = await open();
      const run = listen(stream);
      writeAudio(stream, 3.6);
      await until(() => run.events.some((e) => e.startsWith('utterance_end')));
      const second = finals(run)[1];
      expect(run.events.filter((e) => e.startsWith('speech_started'))).toEqual([
        'speech_started:0.2',
        'speech_started:1.5',
      ]);
      // The pause after the first utterance was shorter than utterance_end_ms (1000).
      expect(run.events.filter((e) => e.startsWith('utterance_end'))).toEqual([
        `utterance_end:${second?.segmentId}`,
      ]);
    });

    it('joins is_final pieces of one utterance into a single final, closed by speech_final', async () => {
      await start([{ text: 'one two three four five six', start: 0.1, end: 3.1 }], {
        finalPieceSeconds: 1,
      });
      const stream = await open();
      const run = listen(stream);
      writeAudio(stream, 4.5);
      await until(() => finals(run).length === 1);
      await until(() => run.events.some((e) => e.startsWith('utterance_end')));
      const [final] = finals(run);
      expect(final?.text).toBe('one two three four five six');
      expect(final?.words).toHaveLength(6);
      expect(final).toMatchObject({ start: 0.1, end: 3.1 });
      // The pieces showed as growing interims of the same segment.
      const interims = run.transcripts.filter((t) => !t.isFinal).map((t) => t.text);
      expect(interims).toContain('one two');
      expect(interims).toContain('one two three four');
      expect(new Set(run.transcripts.map((t) => t.segmentId)).size).toBe(1);
      expect(finals(run)).toHaveLength(1);
    });

    it('emits no interims when the caller did not ask for them, yet still closes utterances', async () => {
      await start();
      const stream = await open({}, { ...streamOptions, interimResults: false });
      const run = listen(stream);
      writeAudio(stream, 3.6);
      await until(() => run.events.some((e) => e.startsWith('utterance_end')));
      expect(run.transcripts.every((t) => t.isFinal)).toBe(true);
      expect(finals(run).map((t) => t.text)).toEqual(['hello world', 'how are you today']);
      // Deepgram sends UtteranceEnd only with interim results on; they are asked for and dropped.
      expect(emulator?.connections[0]?.query.get('interim_results')).toBe('true');
    });
  });

  describe('the stream options Deepgram receives', () => {
    it('sends the key as Authorization: Token, and options as /v1/listen query parameters', async () => {
      await start();
      const stream = await open(
        { options: { endpointing: 300, smart_format: true, vad_events: null } },
        { ...streamOptions, keywords: ['Earshot', 'Deepgram'], providerOptions: { tag: 'test' } },
      );
      const connection = emulator?.connections[0];
      expect(connection?.headers.authorization).toBe('Token test-key');
      const query = Object.fromEntries(
        [...new Set(connection?.query.keys())].map((k) => [k, connection?.query.getAll(k)]),
      );
      expect(query).toEqual({
        model: ['nova-3'],
        language: ['en-US'],
        utterance_end_ms: ['1000'],
        keyterm: ['Earshot', 'Deepgram'],
        endpointing: ['300'],
        smart_format: ['true'],
        tag: ['test'],
        encoding: ['linear16'],
        sample_rate: ['16000'],
        channels: ['1'],
        interim_results: ['true'],
      });
      await stream.end();
    });

    it('refuses provider options that cannot go into a URL as invalid_message, without connecting', async () => {
      await start();
      const hostile: unknown[] = [
        { nested: { deep: true } },
        Symbol('x'),
        Number.NaN,
        [1, { not: 'a value' }],
        { toString: 'not a function' },
      ];
      for (const value of hostile) {
        const failure = await provider({})
          .open({ ...streamOptions, providerOptions: { tag: value } })
          .then(
            () => undefined,
            (error: unknown) => error,
          );
        expect(EarshotError.isInstance(failure)).toBe(true);
        expect(failure).toMatchObject({ code: 'invalid_message', details: { retryable: false } });
        expect((failure as EarshotError).message).toContain('providerOptions.tag');
      }
      const model = await provider({})
        .open({ ...streamOptions, providerOptions: { model: { toString: () => 'nova-3' } } })
        .catch((error: unknown) => error);
      expect(model).toMatchObject({ code: 'invalid_message' });
      expect(emulator?.connections).toHaveLength(0);
    });

    it('boosts keywords with `keywords` on models before Nova-3', async () => {
      await start();
      const stream = await open({ model: 'nova-2' }, { ...streamOptions, keywords: ['Earshot'] });
      expect(emulator?.connections[0]?.query.getAll('keywords')).toEqual(['Earshot']);
      expect(emulator?.connections[0]?.query.has('keyterm')).toBe(false);
      await stream.end();
    });

    it('labels transcripts and words with the speaker Deepgram diarized', async () => {
      await start();
      const stream = await open({}, { ...streamOptions, diarize: true });
      const run = listen(stream);
      writeAudio(stream, 3);
      await until(() => finals(run).length === 2);
      expect(emulator?.connections[0]?.query.get('diarize')).toBe('true');
      expect(finals(run).map((t) => t.speaker)).toEqual([0, 1]);
      expect(finals(run)[1]?.words.every((w) => w.speaker === 1)).toBe(true);
    });

    it('sends G.711 as mulaw or alaw at 8000 Hz', async () => {
      await start([{ text: 'phone call', start: 0.2, end: 0.8 }]);
      const mulaw: AudioFormat = { encoding: 'mulaw', sampleRate: 8000, channels: 1 };
      const stream = await open({}, { ...streamOptions, audio: mulaw });
      const run = listen(stream);
      writeAudio(stream, 1.5, mulaw);
      await until(() => finals(run).length === 1);
      expect(emulator?.connections[0]?.query.get('encoding')).toBe('mulaw');
      expect(emulator?.connections[0]?.query.get('sample_rate')).toBe('8000');
    });

    it('refuses audio formats Deepgram does not take raw, before connecting', async () => {
      await start();
      const opening = provider().open({
        ...streamOptions,
        audio: { encoding: 'pcm16', sampleRate: 16000, channels: 2 },
      });
      await expect(opening).rejects.toMatchObject({ code: 'unsupported_audio_format' });
      expect(emulator?.connections).toHaveLength(0);
    });
  });

  describe('finalize, end, keepalive', () => {
    it('finalize() sends Finalize and the utterance gets its final before any pause', async () => {
      await start([{ text: 'a long sentence that goes on', start: 0.2, end: 5 }]);
      const stream = await open();
      const run = listen(stream);
      writeAudio(stream, 3);
      await until(() => run.transcripts.some((t) => !t.isFinal));
      stream.finalize();
      await until(() => finals(run).length === 1);
      expect(finals(run)[0]?.text).toBe('a long sentence that goes on');
      expect(emulator?.connections[0]?.controlMessages).toEqual([{ type: 'Finalize' }]);
    });

    it('end() sends CloseStream and resolves after the last final, Metadata and a clean close', async () => {
      await start([{ text: 'cut short', start: 0.2, end: 5 }]);
      const stream = await open();
      const run = listen(stream);
      writeAudio(stream, 1);
      await stream.end();
      expect(run.events.slice(-2)).toEqual([`final:${finals(run)[0]?.segmentId}`, 'close']);
      expect(finals(run)[0]?.text).toBe('cut short');
      expect(emulator?.connections[0]?.controlMessages).toEqual([{ type: 'CloseStream' }]);
      expect(emulator?.connections[0]?.closed).toEqual({ code: 1000, reason: '' });
      expect(run.errors).toEqual([]);
    });

    it('ignores writes, finalize and keepAlive once the stream has closed', async () => {
      await start();
      const stream = await open();
      await stream.end();
      const bytes = emulator?.connections[0]?.audioBytes;
      stream.write(new Uint8Array(3200));
      stream.finalize();
      stream.keepAlive?.();
      await stream.end();
      expect(emulator?.connections[0]?.audioBytes).toBe(bytes);
    });

    it('declares Deepgram’s 10 s idle timeout, and keepAlive() holds a silent stream open past it', async () => {
      await start();
      const deepgram = provider();
      expect(deepgram.capabilities.idleTimeoutSeconds).toBe(10);
      emulator!.faults = { idleTimeoutSeconds: 0.3 };
      const stream = await deepgram.open(streamOptions);
      streams.push(stream);
      const run = listen(stream);
      for (let i = 0; i < 8; i++) {
        stream.keepAlive?.();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(run.closed).toBe(false);
      expect(emulator?.connections[0]?.controlMessages).toContainEqual({ type: 'KeepAlive' });
      await stream.end();
      expect(run.errors).toEqual([]);
    });

    it('a silent stream is closed by NET-0001: a fatal, retryable timeout failure, then close', async () => {
      await start();
      emulator!.faults = { idleTimeoutSeconds: 0.2 };
      const stream = await open();
      const run = listen(stream);
      await until(() => run.closed);
      expect(run.errors).toHaveLength(1);
      expect(run.errors[0]).toMatchObject({
        code: 'provider_error',
        fatal: true,
        details: { failure: 'timeout', retryable: true, vendorCode: 1011, provider: 'deepgram' },
      });
      expect(run.errors[0]?.message).toContain('dpgr.am/net0001');
    });
  });

  describe('failures', () => {
    it('a bad key rejects open: provider_unavailable, failure auth (HTTP 401), not retryable', async () => {
      await start();
      const opening = provider({ apiKey: 'wrong-key' }).open(streamOptions);
      await expect(opening).rejects.toMatchObject({
        code: 'provider_unavailable',
        details: { failure: 'auth', retryable: false, vendorCode: 401 },
      });
      expect(emulator?.connections).toHaveLength(0);
    });

    it('no API key at all rejects open with failure auth, without connecting', async () => {
      await start();
      const saved = process.env.DEEPGRAM_API_KEY;
      delete process.env.DEEPGRAM_API_KEY;
      try {
        const opening = createDeepgramProvider({ baseUrl: emulator?.endpoint }).open(streamOptions);
        await expect(opening).rejects.toMatchObject({ details: { failure: 'auth' } });
      } finally {
        if (saved !== undefined) process.env.DEEPGRAM_API_KEY = saved;
      }
    });

    it('options Deepgram refuses (HTTP 400) reject open with failure rejected', async () => {
      await start();
      const opening = provider({ model: 'nova-3', options: { keywords: ['x'] } }).open(
        streamOptions,
      );
      await expect(opening).rejects.toMatchObject({
        code: 'provider_error',
        details: { failure: 'rejected', retryable: false, vendorCode: 400 },
      });
    });

    it('an unreachable endpoint rejects open: provider_unavailable, failure unreachable, retryable', async () => {
      const port = await closedPort();
      const opening = createDeepgramProvider({
        apiKey: 'k',
        baseUrl: `ws://127.0.0.1:${port}`,
      }).open(streamOptions);
      await expect(opening).rejects.toMatchObject({
        code: 'provider_unavailable',
        details: { failure: 'unreachable', retryable: true },
      });
    });

    it('a 503 at the upgrade rejects open as unreachable, and the SDK does not try again', async () => {
      await start();
      emulator!.faults = { refuseNext: 1 };
      const opening = provider().open(streamOptions);
      await expect(opening).rejects.toMatchObject({
        details: { failure: 'unreachable', vendorCode: 503 },
      });
      // The refusal was used up by one attempt; an SDK retry would have connected.
      expect(emulator?.faults.refuseNext).toBe(0);
      expect(emulator?.connections).toHaveLength(0);
    });

    it('an aborted signal rejects open and leaves nothing open', async () => {
      await start();
      const controller = new AbortController();
      const opening = provider().open(streamOptions, controller.signal);
      controller.abort(new Error('caller gone'));
      await expect(opening).rejects.toBeInstanceOf(EarshotError);
      await expect(provider().open(streamOptions, AbortSignal.abort())).rejects.toMatchObject({
        code: 'provider_error',
      });
    });

    it('a connection dropped mid-stream is a fatal, retryable provider_error (dropped), then close', async () => {
      await start();
      emulator!.faults = { dropAfterAudioSeconds: 1.2 };
      const stream = await open();
      const run = listen(stream);
      writeAudio(stream, 2);
      await until(() => run.closed);
      expect(run.errors).toHaveLength(1);
      expect(run.errors[0]).toMatchObject({
        code: 'provider_error',
        fatal: true,
        details: { failure: 'dropped', retryable: true, vendorCode: 1006 },
      });
      expect(run.events.at(-1)).toBe('close');
    });

    it('a Deepgram error close (1011) mid-stream is a fatal provider_error and the SDK does not reconnect', async () => {
      await start();
      emulator!.faults = {
        closeAfterAudioSeconds: { seconds: 1, code: 1011, reason: 'internal server error' },
      };
      const stream = await open();
      const run = listen(stream);
      writeAudio(stream, 2);
      await until(() => run.closed);
      expect(run.errors[0]).toMatchObject({
        code: 'provider_error',
        fatal: true,
        details: { failure: 'dropped', vendorCode: 1011 },
      });
      expect(run.errors[0]?.message).toContain('internal server error');
      // afterEach proves no reconnect timer is pending; no second connection either.
      expect(emulator?.connections).toHaveLength(1);
    });

    it('a close for undecodable audio (1008) is a non-retryable rejected failure', async () => {
      await start();
      emulator!.faults = {
        closeAfterAudioSeconds: { seconds: 0.5, code: 1008, reason: 'DATA-0000: bad audio' },
      };
      const stream = await open();
      const run = listen(stream);
      writeAudio(stream, 1);
      await until(() => run.closed);
      expect(run.errors[0]?.details).toMatchObject({ failure: 'rejected', retryable: false });
    });

    it('a stream-length cap close is a stream-limit failure', async () => {
      await start();
      emulator!.faults = { maxStreamSeconds: 1 };
      const stream = await open();
      const run = listen(stream);
      writeAudio(stream, 2);
      await until(() => run.closed);
      expect(run.errors[0]?.details).toMatchObject({ failure: 'stream-limit', retryable: true });
    });

    it('a stalled upstream makes end() give up after closeTimeoutMs with a timeout failure', async () => {
      await start();
      emulator!.faults = { stallAfterAudioSeconds: 0.5 };
      const stream = await open({ closeTimeoutMs: 300 });
      const run = listen(stream);
      writeAudio(stream, 2);
      await stream.end();
      expect(run.errors[0]).toMatchObject({ fatal: true, details: { failure: 'timeout' } });
      expect(run.closed).toBe(true);
    });

    it('a message that fails its schema is a non-fatal provider_error, logged, and the stream lives on', async () => {
      // A bare server, not the emulator: the emulator only ever sends well-formed messages.
      const results = (transcript: unknown) => ({
        type: 'Results',
        channel_index: [0, 1],
        start: 0,
        duration: 1,
        is_final: true,
        speech_final: true,
        channel: { alternatives: [{ transcript, confidence: 0.8, words: [] }] },
      });
      const server = await startWsEmulatorServer({
        path: '/v1/listen',
        authorize: () => undefined,
        onConnection(ws) {
          ws.once('message', () => {
            ws.send(JSON.stringify(results(42)));
            ws.send('not json');
            ws.send(JSON.stringify({ type: 'SomethingNew' }));
            ws.send(JSON.stringify(results('still here')));
          });
        },
      });
      const warnings: unknown[] = [];
      const logger = { debug() {}, info() {}, warn: (o: unknown) => warnings.push(o), error() {} };
      const stream = await createDeepgramProvider({
        apiKey: 'k',
        baseUrl: server.origin,
        logger,
      }).open(streamOptions);
      const run = listen(stream);
      writeAudio(stream, 0.1);
      await until(() => finals(run).length === 1);
      expect(finals(run)[0]).toMatchObject({ text: 'still here', start: 0, end: 1 });
      expect(run.errors.map((e) => [e.code, e.fatal])).toEqual([
        ['provider_error', false],
        ['provider_error', false],
      ]);
      expect(run.errors[0]?.message).toContain('Results.alternatives.0.transcript');
      expect(warnings).toHaveLength(2);
      stream.abort();
      await server.close();
    });

    it('abort() closes at once, dropping what is pending, and emits close once', async () => {
      await start([{ text: 'never finished', start: 0.2, end: 5 }]);
      const stream = await open();
      const run = listen(stream);
      writeAudio(stream, 1);
      stream.abort('caller hung up');
      stream.abort('again');
      expect(run.events.filter((e) => e === 'close')).toHaveLength(1);
      expect(finals(run)).toEqual([]);
      await stream.end();
    });
  });
});
