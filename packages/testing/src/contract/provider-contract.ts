import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../emulators/emulator.js';
import {
  bytesPerSecond,
  type EmulatorAudioFormat,
  STAMP_SECONDS,
  scriptedTranscriber,
  type Transcriber,
} from '../emulators/transcriber.js';
import { countResources, resourcesAddedSince } from '../leaks.js';
import { CONTRACT_SCRIPT, contractAudioChunk } from './contract-script.js';

// The kit sees providers structurally, so @earshot/testing need not depend on
// @earshot/providers (whose own tests depend on this package).

/** A transcript as the contract reads it. */
export interface ContractTranscript {
  readonly segmentId: string;
  readonly isFinal: boolean;
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly words: readonly { word: string; start: number; end: number }[];
}

/** An error as the contract reads it. */
export interface ContractError {
  readonly code: string;
  readonly fatal: boolean;
  readonly details?: Record<string, unknown> | undefined;
}

/** The stream side of the provider contract, as the kit uses it. */
export interface ContractStream {
  write(chunk: Uint8Array): void;
  finalize(): void;
  end(): Promise<void>;
  abort(reason?: unknown): void;
  on(event: 'transcript', listener: (t: ContractTranscript) => void): unknown;
  on(event: 'error', listener: (e: ContractError) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
}

/** The provider side of the contract, as the kit uses it. */
export interface ContractProvider {
  readonly name: string;
  open(
    options: {
      audio: EmulatorAudioFormat;
      language: string;
      interimResults: boolean;
      keywords: readonly string[];
      diarize: boolean;
    },
    signal?: AbortSignal,
  ): Promise<ContractStream>;
}

/** What the contract needs to know about one provider and its emulator. */
export interface ProviderContractSubject {
  /** The provider's name, as in `SttProvider.name`. */
  readonly name: string;
  /** The raw format the contract streams (one of the provider's input formats). */
  readonly audio: EmulatorAudioFormat;
  /** Starts the vendor's emulator. */
  startEmulator(options: { transcriber: Transcriber }): Promise<Emulator>;
  /** The provider under test, through the vendor's SDK, pointed at `emulator`, with `apiKey`. */
  createProvider(emulator: Emulator, options: { apiKey: string }): ContractProvider;
  /** The provider pointed at a port nothing listens on. */
  createUnreachableProvider(): ContractProvider;
  /** A close the vendor really sends mid-stream (e.g. Deepgram 1011), for the error test. */
  readonly vendorErrorClose: { code: number; reason: string };
  /** Wraps providers in Earshot's resilient layer (`createResilientProvider`). */
  resilient(
    primary: ContractProvider,
    options: { fallbacks?: ContractProvider[]; retry?: Record<string, number> },
  ): ContractProvider;
  /**
   * Whether the provider posts one request per utterance its VAD hears (openai-batch) rather
   * than holding a stream open: then no interims are expected, a drop mid-utterance is a
   * request that dies mid-flight (set through `faults`), and connections are counted per request.
   * Default false.
   */
  readonly batch?: boolean;
}

const AUDIO_SECONDS = 9.5;

interface Run {
  finals: ContractTranscript[];
  interims: ContractTranscript[];
  errors: ContractError[];
  closed: boolean;
}

function listen(stream: ContractStream): Run {
  const run: Run = { finals: [], interims: [], errors: [], closed: false };
  stream.on('transcript', (t) => (t.isFinal ? run.finals : run.interims).push(t));
  stream.on('error', (e) => run.errors.push(e));
  stream.on('close', () => {
    run.closed = true;
  });
  return run;
}

/** Silence of `seconds` in `format` (G.711 silence is not the byte 0). */
function silence(format: EmulatorAudioFormat, seconds: number): Uint8Array {
  const bytes = Math.round(seconds * bytesPerSecond(format));
  const fill = format.encoding === 'mulaw' ? 0xff : format.encoding === 'alaw' ? 0xd5 : 0;
  return new Uint8Array(bytes - (bytes % (format.encoding === 'pcm16' ? 2 : 1))).fill(fill);
}

/**
 * Streams `seconds` of audio in 100 ms chunks, `paceMs` apart, calling `at` between chunks.
 * PCM16 chunks are stamped with their place in the session (see `stampedAudio`), so an
 * emulator reconnected mid-session hears the script from where the replay starts, and are
 * voiced where the script speaks, so a provider that listens through a VAD hears speech there.
 */
async function stream(
  target: ContractStream,
  format: EmulatorAudioFormat,
  seconds: number,
  at?: (second: number) => void | Promise<void>,
  paceMs = 2,
): Promise<void> {
  const quiet = silence(format, STAMP_SECONDS);
  const chunks = Math.round(seconds / STAMP_SECONDS);
  for (let k = 0; k < chunks; k++) {
    const stamped = format.encoding === 'pcm16' && format.channels === 1;
    target.write(stamped ? contractAudioChunk(k, format.sampleRate) : quiet);
    await at?.((k + 1) * STAMP_SECONDS);
    await new Promise((resolve) => setTimeout(resolve, paceMs));
  }
}

const words = (finals: readonly ContractTranscript[]) =>
  finals.flatMap((f) => f.text.split(/\s+/).filter(Boolean)).map((w) => w.toLowerCase());
const scriptWords = CONTRACT_SCRIPT.flatMap((u) => u.text.split(' '));

const LEAK_KINDS = ['TCPSocketWrap', 'TLSSocketWrap', 'Timeout'];

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 100));
}

/**
 * The provider contract every Earshot provider passes, faults included, run against the
 * vendor's emulator through the vendor's own SDK. Call it inside a test file:
 *
 * @example
 * ```ts
 * describeProviderContract({ name: 'deepgram', audio, startEmulator, createProvider, … });
 * ```
 */
export function describeProviderContract(subject: ProviderContractSubject): void {
  const format = subject.audio;
  const batch = subject.batch ?? false;
  /** Cuts the provider off mid-utterance: drops the stream, or the next request in flight. */
  const interrupt = (emulator: Emulator) => {
    if (batch) emulator.faults = { dropAfterAudioSeconds: 0 };
    else emulator.dropAll();
  };

  describe(`${subject.name} provider contract`, () => {
    const emulators: Emulator[] = [];
    const streams: ContractStream[] = [];
    const start = async (
      transcriber: Transcriber = scriptedTranscriber(CONTRACT_SCRIPT, { stamped: true }),
    ) => {
      const emulator = await subject.startEmulator({ transcriber });
      emulators.push(emulator);
      return emulator;
    };
    const open = async (provider: ContractProvider) => {
      const s = await provider.open({
        audio: format,
        language: 'en-US',
        interimResults: true,
        keywords: [],
        diarize: false,
      });
      streams.push(s);
      return s;
    };

    afterEach(async () => {
      for (const s of streams.splice(0)) s.abort('test over');
      for (const e of emulators.splice(0)) await e.close();
    });

    it('transcribes: one final per utterance, in spoken order, timed in the stream audio', async () => {
      const emulator = await start();
      const s = await open(subject.createProvider(emulator, { apiKey: emulator.apiKey }));
      const run = listen(s);
      await stream(s, format, AUDIO_SECONDS);
      await s.end();
      expect(run.finals.map((f) => f.text.toLowerCase())).toEqual(
        CONTRACT_SCRIPT.map((u) => u.text),
      );
      const ids = run.finals.map((f) => f.segmentId);
      expect(new Set(ids).size).toBe(ids.length);
      run.finals.forEach((f, i) => {
        expect(f.start).toBeCloseTo(CONTRACT_SCRIPT[i]!.start, 0);
        expect(f.end).toBeLessThanOrEqual(AUDIO_SECONDS + 0.5);
      });
      if (!batch) {
        expect(run.interims.length).toBeGreaterThan(0);
        for (const i of run.interims) expect(ids).toContain(i.segmentId);
      }
      expect(run.errors).toEqual([]);
      expect(run.closed).toBe(true);
    });

    it('refuses a bad key at open: provider_unavailable, not retryable', async () => {
      const emulator = await start();
      const provider = subject.createProvider(emulator, { apiKey: 'wrong-key' });
      const opened = open(provider).then(
        async (s) => {
          // Vendors without an auth probe at connect refuse at the first audio.
          const run = listen(s);
          await stream(s, format, AUDIO_SECONDS);
          await s.end().catch(() => undefined);
          throw run.errors.find((e) => e.fatal) ?? new Error('a bad key was accepted');
        },
        (error: unknown) => {
          throw error;
        },
      );
      await expect(opened).rejects.toMatchObject({
        code: 'provider_unavailable',
        details: expect.objectContaining({ failure: 'auth', retryable: false }),
      });
    });

    it('refuses an unreachable endpoint at open: provider_unavailable, retryable', async () => {
      await expect(open(subject.createUnreachableProvider())).rejects.toMatchObject({
        code: 'provider_unavailable',
        details: expect.objectContaining({ failure: 'unreachable', retryable: true }),
      });
    });

    it('reports a connection dropped mid-utterance as a fatal, retryable provider_error, then closes', async () => {
      const emulator = await start();
      const s = await open(subject.createProvider(emulator, { apiKey: emulator.apiKey }));
      const run = listen(s);
      await stream(s, format, 3, (t) => {
        if (Math.abs(t - 1.2) < 0.05) interrupt(emulator);
      });
      await settle();
      const fatal = run.errors.find((e) => e.fatal);
      expect(fatal).toMatchObject({ code: 'provider_error' });
      expect(fatal?.details?.retryable).toBe(true);
      expect(run.closed).toBe(true);
    });

    it("reports the vendor's own error close mid-stream as a fatal provider error", async () => {
      const emulator = await start();
      emulator.faults = {
        closeAfterAudioSeconds: { seconds: 1, ...subject.vendorErrorClose },
      };
      const s = await open(subject.createProvider(emulator, { apiKey: emulator.apiKey }));
      const run = listen(s);
      // Past the first utterance's end, so a batch provider has posted it.
      await stream(s, format, 3);
      await settle();
      expect(run.errors.find((e) => e.fatal)?.code).toMatch(/^provider_/);
      expect(run.closed).toBe(true);
    });

    it('through the resilient layer, a drop mid-utterance loses no word and repeats none', async () => {
      const emulator = await start();
      const provider = subject.resilient(
        subject.createProvider(emulator, { apiKey: emulator.apiKey }),
        { retry: { initialDelayMs: 20, budget: 3 } },
      );
      const s = await open(provider);
      const run = listen(s);
      await stream(s, format, AUDIO_SECONDS, (t) => {
        if (Math.abs(t - 4.5) < 0.05) interrupt(emulator); // inside "jumps over the lazy dog"
      });
      await s.end();
      expect(words(run.finals)).toEqual(scriptWords);
      // A stream: the first connection and the one after the drop. Requests: one per
      // utterance, plus the one that was dropped.
      expect(emulator.connections.length).toBe(batch ? CONTRACT_SCRIPT.length + 1 : 2);
      expect(run.errors.filter((e) => e.fatal)).toEqual([]);
    });

    it('fails over mid-session to a secondary when the primary is down for good, with no gap', async () => {
      const primary = await start();
      const secondary = await start();
      const provider = subject.resilient(
        subject.createProvider(primary, { apiKey: primary.apiKey }),
        {
          fallbacks: [subject.createProvider(secondary, { apiKey: secondary.apiKey })],
          retry: { initialDelayMs: 10, maxDelayMs: 20, budget: 2 },
        },
      );
      const s = await open(provider);
      const run = listen(s);
      await stream(s, format, AUDIO_SECONDS, (t) => {
        if (Math.abs(t - 4.5) < 0.05) {
          primary.faults = { refuseNext: 100 };
          primary.dropAll();
        }
      });
      await s.end();
      expect(words(run.finals)).toEqual(scriptWords);
      // The utterances left after the primary went down, on one stream or one request each.
      expect(secondary.connections.length).toBe(batch ? 2 : 1);
    });

    it('leaves no socket or timer behind once a stream has ended or been aborted', async () => {
      const emulator = await start();
      const before = countResources(LEAK_KINDS);
      const provider = subject.createProvider(emulator, { apiKey: emulator.apiKey });
      const ended = await open(provider);
      await stream(ended, format, 1);
      await ended.end();
      const aborted = await open(provider);
      await stream(aborted, format, 1);
      aborted.abort('test');
      await settle();
      await settle();
      expect(resourcesAddedSince(before, LEAK_KINDS)).toEqual([]);
    });
  });
}
