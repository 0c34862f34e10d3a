import { describe, expect, it } from 'vitest';
import {
  type ScriptedUtterance,
  STAMP_SECONDS,
  scriptedTranscriber,
  stampedAudio,
  type TranscribedUtterance,
} from './transcriber.js';

const RATE = 16000;
const SCRIPT: readonly ScriptedUtterance[] = [
  { text: 'one two', start: 0.5, end: 1.5 },
  { text: 'three four', start: 2.5, end: 3.5 },
];
const FORMAT = { encoding: 'pcm16', sampleRate: RATE, channels: 1 } as const;

/** Session audio from chunk `first` to `last` (exclusive), voiced where the script speaks. */
function audio(first: number, last: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let k = first; k < last; k++) {
    const mid = (k + 0.5) * STAMP_SECONDS;
    const voiced = SCRIPT.some((u) => mid >= u.start && mid < u.end);
    parts.push(stampedAudio(k, RATE, { voiced }));
  }
  return Buffer.concat(parts);
}

async function finalsOf(pieces: readonly Uint8Array[]): Promise<TranscribedUtterance[]> {
  const session = scriptedTranscriber(SCRIPT, { stamped: true }).open(FORMAT);
  const finals: TranscribedUtterance[] = [];
  session.on('utterance', (u) => {
    if (u.isFinal) finals.push(u);
  });
  for (const piece of pieces) session.write(piece);
  await session.end();
  session.close();
  return finals;
}

/** `bytes` cut into pieces of `size` bytes (odd sizes split samples and stamps). */
const split = (bytes: Uint8Array, size: number) =>
  Array.from({ length: Math.ceil(bytes.byteLength / size) }, (_, i) =>
    bytes.subarray(i * size, (i + 1) * size),
  );

describe('stamped scripted transcriber', () => {
  it('hears the whole script from stamped audio, silent or voiced, in pieces of any size', async () => {
    for (const size of [3200, 777, 5, 1]) {
      const finals = await finalsOf(split(audio(0, 45), size));
      expect(finals.map((f) => f.text)).toEqual(['one two', 'three four']);
      expect(finals[1]?.start).toBeCloseTo(2.5, 6);
    }
  });

  it('hears a stream replayed from mid-chunk from that point, timed in its own audio', async () => {
    // Session audio from 1.83 s on: the first utterance ended before it began.
    const whole = audio(0, 45);
    const from = Math.round(1.83 * RATE) * 2;
    const finals = await finalsOf(split(whole.subarray(from), 1001));
    expect(finals.map((f) => f.text)).toEqual(['three four']);
    expect(finals[0]?.start).toBeCloseTo(2.5 - 1.83, 6);
    expect(finals[0]?.end).toBeCloseTo(3.5 - 1.83, 6);
  });

  it('does not move the script clock on silence without stamps (keepalive audio)', async () => {
    const session = scriptedTranscriber(SCRIPT, { stamped: true }).open(FORMAT);
    const heard: string[] = [];
    session.on('utterance', (u) => heard.push(u.text));
    session.write(audio(0, 3));
    session.write(new Uint8Array(RATE * 2 * 5)); // five seconds of zeros
    expect(heard).toEqual([]);
    session.close();
  });

  it('opens each chunk with a stamp within ±4 of zero', () => {
    const chunk = new Int16Array(stampedAudio(12345, RATE).buffer);
    expect(chunk.length).toBe(RATE * STAMP_SECONDS);
    expect(Math.max(...chunk.map(Math.abs))).toBeLessThanOrEqual(4);
  });
});
