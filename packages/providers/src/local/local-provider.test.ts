import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EarshotError, PCM16_16K_MONO } from '@earshot/protocol';
import {
  encodeWavPcm16,
  readWavPcm16,
  referenceTranscript,
  speechFixtures,
  wordErrorRate,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderTranscript, SttStream, SttStreamOptions } from '../stt-provider.js';
import { createLocalProvider, type LocalProvider } from './local-provider.js';

const streamOptions: SttStreamOptions = {
  audio: PCM16_16K_MONO,
  language: 'en-US',
  interimResults: true,
  keywords: [],
  diarize: false,
};

/** Odd, uneven chunk sizes, so samples straddle chunks and blocks. */
const CHUNK_SIZES = [777, 1001, 333, 4097, 1];

function* oddChunks(pcm: Buffer): Generator<Buffer> {
  let offset = 0;
  for (let i = 0; offset < pcm.length; i += 1) {
    const size = CHUNK_SIZES[i % CHUNK_SIZES.length] ?? 1;
    yield pcm.subarray(offset, offset + size);
    offset += size;
  }
}

interface Recorded {
  readonly transcripts: ProviderTranscript[];
  readonly events: string[];
  closes: number;
}

function record(stream: SttStream): Recorded {
  const recorded: Recorded = { transcripts: [], events: [], closes: 0 };
  stream.on('transcript', (t) => {
    recorded.transcripts.push(t);
    recorded.events.push(`${t.isFinal ? 'final' : 'interim'}:${t.segmentId}`);
  });
  stream.on('speech_started', () => recorded.events.push('speech_started'));
  stream.on('utterance_end', (e) => recorded.events.push(`utterance_end:${e.segmentId}`));
  stream.on('close', () => {
    recorded.closes += 1;
  });
  return recorded;
}

const finals = (r: Recorded) => r.transcripts.filter((t) => t.isFinal);

const fixtures = await speechFixtures();
const first = fixtures[0];
if (!first) throw new Error('PocketSphinx test recordings are missing');
const workDir = await mkdtemp(join(tmpdir(), 'earshot-local-'));
const silence = Buffer.alloc(16000); // 0.5 s
/** All five recordings back to back with half a second of silence between: ~27 s. */
const longPcm = Buffer.concat(
  await Promise.all(
    fixtures.map(async (f) => Buffer.concat([(await readWavPcm16(f.path)).pcm, silence])),
  ),
);
const longWav = join(workDir, 'librivox-all.wav');
await writeFile(longWav, encodeWavPcm16(longPcm, PCM16_16K_MONO));

let provider: LocalProvider;
beforeAll(() => {
  provider = createLocalProvider({ maxConcurrentStreams: 2 });
});
afterAll(async () => {
  await provider.close();
  await rm(workDir, { recursive: true, force: true });
});

describe('local provider', () => {
  it('declares PCM16 16 kHz mono input, interims and word timings', () => {
    expect(provider.name).toBe('local');
    expect(provider.specificationVersion).toBe('v1');
    expect(provider.capabilities).toMatchObject({
      inputFormats: [PCM16_16K_MONO],
      interimResults: true,
      wordTimings: true,
      diarization: false,
      keywordBoosting: false,
      languages: ['en-US', 'en'],
      maxConcurrentStreams: 2,
    });
  });

  it('transcribes a recording written in odd-sized chunks as pocketsphinx_continuous does (WER ≤ 0.10)', async () => {
    const { pcm } = await readWavPcm16(first.path);
    const stream = await provider.open(streamOptions);
    const recorded = record(stream);
    for (const chunk of oddChunks(pcm)) stream.write(chunk);
    await stream.end();
    const hypothesis = finals(recorded)
      .map((t) => t.text)
      .join(' ');
    const reference = (await referenceTranscript(first.path)).join(' ');
    const wer = wordErrorRate(reference, hypothesis);
    console.log(`local vs pocketsphinx_continuous on ${first.name}: WER ${wer.toFixed(3)}`);
    console.log(`  reference:  ${reference}\n  hypothesis: ${hypothesis}`);
    expect(wer).toBeLessThanOrEqual(0.1);
  });

  it('segments a long recording into utterances matching pocketsphinx_continuous, one final per segmentId, interims first', async () => {
    const stream = await provider.open(streamOptions);
    const recorded = record(stream);
    for (const chunk of oddChunks(longPcm)) stream.write(chunk);
    await stream.end();

    const reference = await referenceTranscript(longWav);
    const hypothesis = finals(recorded).map((t) => t.text);
    const wer = wordErrorRate(reference.join(' '), hypothesis.join(' '));
    console.log(
      `local vs pocketsphinx_continuous on 5 recordings (${reference.length} utterances vs ${hypothesis.length}): WER ${wer.toFixed(3)}`,
    );
    expect(wer).toBeLessThanOrEqual(0.1);

    const finalIds = finals(recorded).map((t) => t.segmentId);
    expect(new Set(finalIds).size).toBe(finalIds.length);
    expect(finalIds.length).toBeGreaterThanOrEqual(3);
    for (const t of recorded.transcripts.filter((x) => !x.isFinal)) {
      expect(finalIds).toContain(t.segmentId);
      const interimAt = recorded.events.indexOf(`interim:${t.segmentId}`);
      expect(interimAt).toBeLessThan(recorded.events.indexOf(`final:${t.segmentId}`));
    }
    expect(recorded.transcripts.some((t) => !t.isFinal)).toBe(true);
    expect(recorded.events.filter((e) => e === 'speech_started').length).toBeGreaterThanOrEqual(
      finalIds.length,
    );
    expect(recorded.events.some((e) => e.startsWith('utterance_end:'))).toBe(true);

    // Finals in spoken order on one monotone clock, inside the audio, each word start ≤ end.
    const duration = longPcm.length / 32000;
    let cursor = 0;
    for (const final of finals(recorded)) {
      expect(final.text).toBe(final.words.map((w) => w.word).join(' '));
      expect(final.start).toBeGreaterThanOrEqual(cursor);
      for (const word of final.words) {
        expect(word.word).not.toMatch(/^[<[]|\(\d+\)$/);
        expect(word.start).toBeGreaterThanOrEqual(cursor);
        expect(word.end).toBeGreaterThanOrEqual(word.start);
        expect(word.end).toBeLessThanOrEqual(duration);
        cursor = word.end;
      }
      expect(final.end).toBe(cursor);
    }
    expect(recorded.closes).toBe(1);
  });

  it('finalize() ends the current utterance with a final before the speaker pauses', async () => {
    const fixture = fixtures.find((f) => f.name.endsWith('0920')) ?? first;
    const { pcm } = await readWavPcm16(fixture.path);
    const stream = await provider.open(streamOptions);
    const recorded = record(stream);
    const firstFinal = new Promise<ProviderTranscript>((resolve) => {
      stream.on('transcript', (t) => t.isFinal && resolve(t));
    });
    const half = pcm.length / 2 + 1; // odd on purpose
    stream.write(pcm.subarray(0, half));
    stream.finalize();
    const forced = await firstFinal;
    expect(forced.text.split(' ').length).toBeGreaterThan(2);
    expect(forced.end).toBeLessThanOrEqual(half / 32000);
    stream.write(pcm.subarray(half));
    await stream.end();
    const all = finals(recorded);
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(all[0]).toBe(forced);
    expect(new Set(all.map((t) => t.segmentId)).size).toBe(all.length);
    expect(wordErrorRate(fixture.text, all.map((t) => t.text).join(' '))).toBeLessThan(0.5);
  });

  it('keeps the event loop free while it decodes a long recording', async () => {
    const stream = await provider.open({ ...streamOptions, interimResults: false });
    let ticks = 0;
    const timer = setInterval(() => {
      ticks += 1;
    }, 5);
    stream.write(longPcm);
    await stream.end();
    clearInterval(timer);
    console.log(`event loop ticked ${ticks} times while ~27 s of audio was decoded`);
    expect(ticks).toBeGreaterThan(20);
  });

  it('closes exactly once, whether ended, aborted or both', async () => {
    const stream = await provider.open(streamOptions);
    const recorded = record(stream);
    stream.write(Buffer.alloc(3201));
    const ended = stream.end();
    stream.abort();
    stream.abort();
    await ended;
    await stream.end();
    stream.write(Buffer.alloc(10)); // ignored, never throws
    expect(recorded.closes).toBe(1);
  });

  it('rejects audio formats other than PCM16 16 kHz mono', async () => {
    const error = await provider
      .open({ ...streamOptions, audio: { encoding: 'mulaw', sampleRate: 8000, channels: 1 } })
      .catch((e: unknown) => e);
    expect(EarshotError.isInstance(error) && error.code).toBe('unsupported_audio_format');
  });
});

describe('local provider capacity', () => {
  it('rejects an open beyond maxConcurrentStreams with capacity, and frees the slot after end()', async () => {
    const single = createLocalProvider({ maxConcurrentStreams: 1 });
    try {
      const stream = await single.open(streamOptions);
      const error = await single.open(streamOptions).catch((e: unknown) => e);
      expect(EarshotError.isInstance(error) && error.code).toBe('capacity');
      await stream.end();
      const next = await single.open(streamOptions);
      await next.end();
    } finally {
      await single.close();
    }
  });

  it('abort() releases the slot at once and emits close once', async () => {
    const single = createLocalProvider({ maxConcurrentStreams: 1 });
    try {
      const stream = await single.open(streamOptions);
      const recorded = record(stream);
      stream.write(longPcm);
      stream.abort(new Error('client went away'));
      expect(recorded.closes).toBe(1);
      const next = await single.open(streamOptions);
      next.abort();
      expect(recorded.closes).toBe(1);
    } finally {
      await single.close();
    }
  });

  it('honours an AbortSignal while the decoder initializes', async () => {
    const fresh = createLocalProvider({ maxConcurrentStreams: 1 });
    try {
      const controller = new AbortController();
      const opening = fresh.open(streamOptions, controller.signal);
      controller.abort(new EarshotError('timeout', 'gave up waiting'));
      const error = await opening.catch((e: unknown) => e);
      expect(EarshotError.isInstance(error) && error.code).toBe('timeout');
      // The slot is free again.
      const stream = await fresh.open(streamOptions);
      await stream.end();
    } finally {
      await fresh.close();
    }
  });
});

describe('local provider without the engine', () => {
  it.each([
    ['the library', { libraryPath: '/nonexistent/libpocketsphinx.so.3' }],
    ['the model', { modelDir: '/nonexistent/model' }],
  ])(
    'rejects open() with provider_unavailable and the install command when %s is missing',
    async (_, settings) => {
      const missing = createLocalProvider(settings);
      const error = await missing.open(streamOptions).catch((e: unknown) => e);
      expect(EarshotError.isInstance(error)).toBe(true);
      if (!EarshotError.isInstance(error)) return;
      expect(error.code).toBe('provider_unavailable');
      expect(error.message).toBe(
        'PocketSphinx is not installed: apt-get install pocketsphinx pocketsphinx-en-us',
      );
      expect(error.details?.install).toBe('apt-get install -y pocketsphinx pocketsphinx-en-us');
      await missing.close();
    },
  );
});
