/** Synthetic audio for the openai-batch tests: no real speech is needed, the emulator's
 * scripted transcriber decides the words; only the voice activity detector must hear voice. */

const RATE = 16000;

/**
 * A voiced sound WebRTC VAD takes for speech: a 150 Hz buzz with harmonics, a little noise
 * and a 4 Hz syllable envelope.
 */
export function voice(seconds: number, seed = 1): Int16Array {
  const n = Math.round(seconds * RATE);
  const out = new Int16Array(n);
  let s = seed;
  const noise = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff - 0.5;
  };
  for (let i = 0; i < n; i++) {
    const t = i / RATE;
    let v = noise() * 0.3;
    for (let h = 1; h <= 8; h++) v += Math.sin(2 * Math.PI * 150 * h * t) / h;
    out[i] = Math.round(v * (0.55 + 0.45 * Math.sin(2 * Math.PI * 4 * t)) * 6000);
  }
  return out;
}

/** Digital silence. */
export const silence = (seconds: number): Int16Array => new Int16Array(Math.round(seconds * RATE));

/** The parts one after the other, as PCM16 bytes. */
export function pcm(...parts: Int16Array[]): Uint8Array {
  const total = parts.reduce((sum, p) => sum + p.length, 0);
  const out = new Int16Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return new Uint8Array(out.buffer);
}

/** Writes `bytes` in 20 ms chunks, as a live caller does. */
export function writeLive(stream: { write(chunk: Uint8Array): void }, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.byteLength; at += 640) stream.write(bytes.subarray(at, at + 640));
}
