import { execFile } from 'node:child_process';
import { makeOpusFixtures, type OpusFixtures, randomChunks } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionAudio, type Replay } from './session-audio.js';

const RATE = 48000;

/** FFmpeg's decode of a container stream to PCM16 mono 48 kHz: what a vendor would hear. */
function decode(bytes: Uint8Array): Promise<Int16Array> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-i',
        'pipe:0',
        '-f',
        's16le',
        '-ac',
        '1',
        '-ar',
        '48000',
        'pipe:1',
      ],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout) => {
        if (error) reject(error);
        else resolve(new Int16Array(Uint8Array.from(stdout).buffer));
      },
    );
    child.stdin?.end(Buffer.from(bytes));
  });
}

const joined = (replay: Replay) => Buffer.concat(replay.chunks.map((c) => Buffer.from(c)));

/**
 * The best normalised correlation of `part` with `whole` near sample `at` (±`search`): 1 when
 * the replay decodes to the same audio as the whole stream from that point.
 */
function similarity(part: Int16Array, whole: Int16Array, at: number, search = 1200): number {
  const skip = 2400; // a decoder that starts mid-stream takes a few frames to converge
  const length = RATE;
  let best = -1;
  for (let shift = -search; shift <= search; shift += 4) {
    let dot = 0;
    let a2 = 0;
    let b2 = 0;
    for (let i = skip; i < skip + length; i += 2) {
      const a = part[i] ?? 0;
      const b = whole[at + shift + i] ?? 0;
      dot += a * b;
      a2 += a * a;
      b2 += b * b;
    }
    best = Math.max(best, dot / Math.sqrt(a2 * b2 || 1));
  }
  return best;
}

describe('container session audio (replay of WebM/Opus and Ogg/Opus)', () => {
  let fixtures: OpusFixtures;
  beforeAll(async () => {
    fixtures = await makeOpusFixtures();
  });
  afterAll(() => fixtures?.cleanup());

  const cases = [
    [
      'WebM as FFmpeg writes a file',
      'webm-opus',
      () => fixtures.webm,
      () => fixtures.webmReference,
    ],
    [
      'WebM as MediaRecorder streams it',
      'webm-opus',
      () => fixtures.liveWebm,
      () => fixtures.webmReference,
    ],
    ['Ogg/Opus', 'ogg-opus', () => fixtures.ogg, () => fixtures.oggReference],
  ] as const;

  for (const [name, encoding, bytes, reference] of cases) {
    describe(name, () => {
      const load = () => {
        const audio = createSessionAudio({ encoding, sampleRate: RATE, channels: 1 }, 60);
        let seconds = 0;
        for (const chunk of randomChunks(bytes(), 7, 900)) seconds += audio.push(chunk, 0);
        return { audio, seconds };
      };

      it('times the stream by its Opus packets, whatever the chunking', () => {
        const { audio, seconds } = load();
        const duration = reference().length / RATE;
        expect(audio.seconds).toBeCloseTo(seconds, 9);
        expect(Math.abs(audio.seconds - duration)).toBeLessThan(0.03);
      });

      it('replays from mid-stream as a stream a decoder reads: header first, the same audio from there', async () => {
        const { audio } = load();
        const replay = audio.replay(3.0);
        expect(replay.start).toBeLessThanOrEqual(3.0);
        expect(replay.start).toBeGreaterThan(2.0);
        expect(replay.seconds).toBeCloseTo(audio.seconds - replay.start, 6);
        const decoded = await decode(joined(replay));
        expect(Math.abs(decoded.length / RATE - replay.seconds)).toBeLessThan(0.1);
        expect(similarity(decoded, reference(), Math.round(replay.start * RATE))).toBeGreaterThan(
          0.9,
        );
      });

      it('forgets what is final but keeps a replay point at or before it', async () => {
        const { audio } = load();
        audio.trimBefore(5.0);
        const replay = audio.replay(5.2);
        expect(replay.start).toBeLessThanOrEqual(5.2);
        expect(replay.start).toBeGreaterThan(4.0);
        const decoded = await decode(joined(replay));
        expect(similarity(decoded, reference(), Math.round(replay.start * RATE))).toBeGreaterThan(
          0.9,
        );
      });
    });
  }

  it('before any audio, replays what has arrived: the start of the header', () => {
    const audio = createSessionAudio({ encoding: 'webm-opus', sampleRate: RATE, channels: 1 }, 60);
    const head = fixtures.liveWebm.subarray(0, 40);
    audio.push(head, 0);
    const replay = audio.replay(0);
    expect(replay).toMatchObject({ start: 0, seconds: 0 });
    expect(joined(replay)).toEqual(Buffer.from(head));
  });

  it('has no silence to splice into a container (keepalive needs the vendor message)', () => {
    const audio = createSessionAudio({ encoding: 'ogg-opus', sampleRate: RATE, channels: 1 }, 60);
    expect(audio.silence(1)).toBeUndefined();
  });

  it('refuses wav: the pipeline reads its header and passes raw audio on', () => {
    expect(() =>
      createSessionAudio({ encoding: 'wav', sampleRate: 16000, channels: 1 }, 60),
    ).toThrow(expect.objectContaining({ code: 'unsupported_audio_format' }));
  });
});
