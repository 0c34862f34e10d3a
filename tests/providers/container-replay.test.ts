import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ProviderTranscript, SttStream } from '@earshot/providers';
import { OpusContainerClock } from '@earshot/providers/containers';
import { createDeepgramProvider } from '@earshot/providers/deepgram';
import { createResilientProvider } from '@earshot/providers/resilient';
import {
  type DeepgramEmulator,
  readWavPcm16,
  scriptedTranscriber,
  speechFixtures,
  startDeepgramEmulator,
  type Transcriber,
  toLiveWebm,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// WebM/Opus and Ogg/Opus, as browsers record them, passed through to Deepgram untouched: the
// emulator decodes the container with FFmpeg, as Deepgram does. Killing the upstream
// mid-utterance must lose no audio: the resilient layer replays the container header, then
// the stream from the block or page before the last final, so the new upstream hears every
// second since that final, once, in order. The emulator's transcript is scripted (a final
// for the first utterance), which fixes where the replay starts; the check is on the audio
// each connection decoded. (Words through a recogniser after a drop are checked for raw
// audio by the provider contract; Opus coding would erase its audio stamps.)
const run = promisify(execFile);
const RATE = 16000;
const PAUSE = 1;
const SCRIPT = [{ text: 'and mister john dashwood', start: 0.3, end: 6.9 }];

type Container = 'webm-opus' | 'ogg-opus';
let dir: string;
/** Length of the first utterance's recording, seconds. */
let firstSeconds: number;
const media = {} as Record<Container, { bytes: Uint8Array; pcm16k: Int16Array }>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'earshot-container-'));
  const [first, second] = await speechFixtures();
  firstSeconds = (await readWavPcm16(first!.path)).pcm.byteLength / 2 / RATE;
  // Two utterances with a pause between them, encoded as a browser would.
  const encode = (format: string, file: string) =>
    run('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-y', '-i', first!.path, '-i', second!.path],
      ...['-filter_complex', `[0:a]apad=pad_dur=${PAUSE}[a0];[a0][1:a]concat=n=2:v=0:a=1`],
      ...['-ar', '48000', '-c:a', 'libopus', '-b:a', '32k', '-f', format, join(dir, file)],
    ]);
  // What the emulator decodes the whole stream to: the reference a replay must match.
  const decode = async (file: string) => {
    const out = join(dir, `${file}.raw`);
    await run('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-y', '-i', join(dir, file)],
      ...['-f', 's16le', '-ac', '1', '-ar', String(RATE), out],
    ]);
    return new Int16Array(Uint8Array.from(readFileSync(out)).buffer);
  };
  await encode('webm', 'speech.webm');
  await encode('ogg', 'speech.ogg');
  media['webm-opus'] = {
    bytes: toLiveWebm(new Uint8Array(readFileSync(join(dir, 'speech.webm')))),
    pcm16k: await decode('speech.webm'),
  };
  media['ogg-opus'] = {
    bytes: new Uint8Array(readFileSync(join(dir, 'speech.ogg'))),
    pcm16k: await decode('speech.ogg'),
  };
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A transcriber that keeps the PCM each connection of the emulator hears. */
function recording(transcriber: Transcriber, heard: Buffer[][]): Transcriber {
  return {
    open(format) {
      const session = transcriber.open(format);
      const pcm: Buffer[] = [];
      heard.push(pcm);
      const write = session.write.bind(session);
      session.write = (bytes) => {
        pcm.push(Buffer.from(bytes));
        write(bytes);
      };
      return session;
    },
  };
}

/**
 * Streams the recording through the resilient layer over Deepgram to a fresh emulator, about
 * four times faster than real time, killing the upstream once `dropAt` seconds are sent.
 */
async function streamWithDrop(
  encoding: Container,
  dropAt: number,
): Promise<{ finals: ProviderTranscript[]; heard: Int16Array[] }> {
  const heard: Buffer[][] = [];
  const emulator: DeepgramEmulator = await startDeepgramEmulator({
    transcriber: recording(scriptedTranscriber(SCRIPT), heard),
  });
  try {
    const provider = createResilientProvider(
      createDeepgramProvider({ apiKey: emulator.apiKey, baseUrl: emulator.endpoint }),
      { retry: { initialDelayMs: 20, budget: 3 } },
    );
    const s: SttStream = await provider.open({
      audio: { encoding, sampleRate: 48000, channels: 1 },
      language: 'en-US',
      interimResults: true,
      keywords: [],
      diarize: false,
    });
    const finals: ProviderTranscript[] = [];
    const errors: unknown[] = [];
    s.on('transcript', (t) => t.isFinal && finals.push(t));
    s.on('error', (e) => errors.push(e));
    const clock = new OpusContainerClock(encoding);
    const { bytes } = media[encoding];
    let dropped = false;
    for (let at = 0; at < bytes.byteLength; at += 1000) {
      const chunk = bytes.subarray(at, at + 1000);
      s.write(chunk);
      clock.write(chunk);
      if (!dropped && clock.seconds >= dropAt) {
        dropped = true;
        emulator.dropAll();
      }
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    await s.end();
    expect(errors.filter((e) => (e as { fatal?: boolean }).fatal)).toEqual([]);
    const pcm = heard.map((parts) => {
      const all = Buffer.concat(parts);
      return new Int16Array(Uint8Array.from(all.subarray(0, all.byteLength & ~1)).buffer);
    });
    return { finals, heard: pcm };
  } finally {
    await emulator.close();
  }
}

/** Normalised correlation of `length` samples of `a` from `ai` and `b` from `bi`. */
function correlation(a: Int16Array, ai: number, b: Int16Array, bi: number, length: number): number {
  let dot = 0;
  let a2 = 0;
  let b2 = 0;
  for (let i = 0; i < length; i++) {
    const x = a[ai + i] ?? 0;
    const y = b[bi + i] ?? 0;
    dot += x * y;
    a2 += x * x;
    b2 += y * y;
  }
  return dot / Math.sqrt(a2 * b2 || 1);
}

/** The RMS level of `length` samples of `pcm` from `at`. */
function rms(pcm: Int16Array, at: number, length: number): number {
  let sum = 0;
  for (let i = at; i < at + length; i++) sum += (pcm[i] ?? 0) ** 2;
  return Math.sqrt(sum / length);
}

/** Where in `reference` the audio `part` starts (samples): its best match, searching it all. */
function locate(part: Int16Array, reference: Int16Array): number {
  // Skip the part's first half second: a decoder that starts mid-stream converges first.
  const from = RATE / 2;
  let best = { at: 0, score: -1 };
  for (let at = 0; at + from + RATE < reference.length; at += 4) {
    const score = correlation(part, from, reference, at + from, RATE);
    if (score > best.score) best = { at, score };
  }
  return best.at;
}

describe('containers passed through to Deepgram, replayed after a drop', () => {
  for (const encoding of ['webm-opus', 'ogg-opus'] as const) {
    it(`${encoding}: a drop mid-utterance loses no audio; the new upstream hears all of it from the last final`, async () => {
      const reference = media[encoding].pcm16k;
      const dropAt = firstSeconds + PAUSE + 1; // a second into the second utterance
      const { finals, heard } = await streamWithDrop(encoding, dropAt);
      expect(heard).toHaveLength(2);
      // The first utterance's final came on the first connection, before the drop.
      const first = finals[0]!;
      expect(first.text).toBe(SCRIPT[0]!.text);
      expect(first.end).toBeLessThan(dropAt);
      // The second connection heard the session from that final's end to the end, in order:
      // it starts there, and every second after lines up with the reference at that same
      // place (nothing missing, nothing repeated).
      const replayed = heard[1]!;
      const at = locate(replayed, reference);
      console.log(
        `${encoding}: final ends ${first.end.toFixed(2)} s, drop at ${dropAt.toFixed(2)} s; second connection heard ${(replayed.length / RATE).toFixed(2)} s from ${(at / RATE).toFixed(2)} s`,
      );
      // WebM replays from the 20 ms block before; Ogg from the page before (FFmpeg and
      // browsers write a page about every second).
      const unit = encoding === 'webm-opus' ? 0.1 : 1.1;
      expect(at / RATE).toBeLessThan(first.end + 0.05);
      expect(at / RATE).toBeGreaterThan(first.end - unit);
      expect(Math.abs(replayed.length - (reference.length - at))).toBeLessThan(0.15 * RATE);
      let compared = 0;
      for (let second = 1; (second + 1) * RATE < replayed.length; second++) {
        const place = at + second * RATE;
        if (rms(reference, place, RATE) < 100) continue; // the pause: nothing to line up
        const score = correlation(replayed, second * RATE, reference, place, RATE);
        expect(score).toBeGreaterThan(0.9);
        compared++;
      }
      expect(compared).toBeGreaterThanOrEqual(2);
    });
  }
});
