import { readWavPcm16, seededRandom, speechFixtures } from '@earshot/testing';
import { describe, expect, it } from 'vitest';
import type { SpeechEndedEvent, VadEvent } from './speech-segmenter.js';
import { createVoiceActivityDetector } from './voice-activity-detector.js';
import { openWebRtcVadCount } from './webrtc-vad.js';

const RATE = 16000;

async function loadRecordings(): Promise<Int16Array[]> {
  const fixtures = await speechFixtures();
  return Promise.all(
    fixtures.map(async (f) => {
      const { pcm } = await readWavPcm16(f.path);
      // Copied so the samples are aligned whatever the file's data offset.
      return new Int16Array(Uint8Array.from(pcm).buffer);
    }),
  );
}

function join(parts: Int16Array[], gapSeconds: number): { pcm: Int16Array; spans: number[][] } {
  const gap = Math.round(gapSeconds * RATE);
  const total = parts.reduce((sum, p) => sum + p.length + gap, gap);
  const pcm = new Int16Array(total);
  const spans: number[][] = [];
  let at = gap;
  for (const part of parts) {
    pcm.set(part, at);
    spans.push([at / RATE, (at + part.length) / RATE]);
    at += part.length + gap;
  }
  return { pcm, spans };
}

async function detect(
  pcm: Int16Array,
  options: Parameters<typeof createVoiceActivityDetector>[0] = { sampleRate: RATE },
  chunkSize: (remaining: number) => number = (remaining) => remaining,
): Promise<VadEvent[]> {
  const detector = await createVoiceActivityDetector(options);
  try {
    const events: VadEvent[] = [];
    for (let offset = 0; offset < pcm.length; ) {
      const size = Math.max(1, Math.min(chunkSize(pcm.length - offset), pcm.length - offset));
      events.push(...detector.push(pcm.subarray(offset, offset + size)));
      offset += size;
    }
    events.push(...detector.flush());
    return events;
  } finally {
    detector.close();
  }
}

const regions = (events: VadEvent[]) =>
  events.filter((e): e is SpeechEndedEvent => e.type === 'speech_ended');

describe('createVoiceActivityDetector', () => {
  it('reports no speech in digital silence', async () => {
    expect(await detect(new Int16Array(5 * RATE))).toEqual([]);
  });

  it('finds a recording padded with a second of silence, starting near its onset', async () => {
    const [first] = await loadRecordings();
    const { pcm, spans } = join([first!], 1);
    const [span] = spans as [[number, number]];
    const events = await detect(pcm);
    const found = regions(events);
    expect(found.length).toBeGreaterThanOrEqual(1);
    expect(events[0]).toMatchObject({ type: 'speech_started' });
    expect(found[0]!.start).toBeGreaterThan(0.7);
    expect(found[0]!.start).toBeLessThan(1.5);
    const last = found.at(-1)!;
    expect(last.at).toBeGreaterThan(span[1] - 0.5);
    expect(last.at).toBeLessThanOrEqual(span[1] + 1);
    // Starts and ends alternate, in order.
    expect(events.map((e) => e.type)).toEqual(
      found.flatMap(() => ['speech_started', 'speech_ended']),
    );
  });

  it('cuts recordings joined by 1.5 s silences into exactly one region each', async () => {
    const recordings = await loadRecordings();
    const { pcm, spans } = join(recordings, 1.5);
    const found = regions(await detect(pcm));
    expect(found).toHaveLength(recordings.length);
    found.forEach((region, i) => {
      const [start, end] = spans[i] as [number, number];
      expect(region.start).toBeGreaterThan(start - 0.3);
      expect(region.start).toBeLessThan(start + 0.5);
      expect(region.at).toBeGreaterThan(end - 0.5);
      expect(region.at).toBeLessThan(end + 0.5);
    });
  });

  it('gives the same events however the audio is chunked', async () => {
    const recordings = await loadRecordings();
    const { pcm } = join(recordings.slice(0, 3), 1.5);
    const whole = await detect(pcm);
    expect(whole.length).toBeGreaterThan(0);
    for (const seed of [1, 2, 3]) {
      const next = seededRandom(seed);
      // Sizes from 1 sample (splitting every frame) to several frames.
      const chunked = await detect(pcm, { sampleRate: RATE }, () => 1 + Math.floor(next() * 2000));
      expect(chunked).toEqual(whole);
    }
    const tiny = await detect(pcm, { sampleRate: RATE }, () => 7);
    expect(tiny).toEqual(whole);
  });

  it('reports (almost) no speech in moderate white noise at mode 3', async () => {
    const next = seededRandom(42);
    const noise = new Int16Array(10 * RATE);
    // Uniform noise of RMS ≈ 1000 (−30 dBFS), about the level of room noise in a loud office.
    for (let i = 0; i < noise.length; i++) noise[i] = Math.round((next() * 2 - 1) * 1732);
    // With the noise gate off, so this is WebRTC VAD's own judgement.
    const found = regions(await detect(noise, { sampleRate: RATE, mode: 3, noiseGateDb: false }));
    const speechSeconds = found.reduce((sum, r) => sum + (r.at - r.start), 0);
    expect(speechSeconds).toBeLessThan(0.5);
  });

  it('still cuts one region per recording in pink noise at 10 dB SNR, thanks to the noise gate', async () => {
    const recordings = await loadRecordings();
    const { pcm, spans } = join(recordings, 1.5);
    const next = seededRandom(9);
    const noise = new Float64Array(pcm.length);
    // Paul Kellet's economy pink filter over white noise.
    let b0 = 0;
    let b1 = 0;
    let b2 = 0;
    for (let i = 0; i < noise.length; i++) {
      const white = next() * 2 - 1;
      b0 = 0.99765 * b0 + white * 0.099046;
      b1 = 0.963 * b1 + white * 0.2965164;
      b2 = 0.57 * b2 + white * 1.0526913;
      noise[i] = b0 + b1 + b2 + white * 0.1848;
    }
    let speech = 0;
    let count = 0;
    for (const [a, b] of spans as [number, number][]) {
      for (let i = Math.round(a * RATE); i < Math.round(b * RATE); i++) speech += pcm[i]! ** 2;
      count += Math.round((b - a) * RATE);
    }
    const noisePower = noise.reduce((sum, v) => sum + v * v, 0) / noise.length;
    const gain = Math.sqrt(speech / count / 10 / noisePower);
    const noisy = pcm.map((v, i) => Math.max(-32768, Math.min(32767, v + gain * noise[i]!)));
    const found = regions(await detect(noisy));
    expect(found).toHaveLength(recordings.length);
    found.forEach((region, i) => {
      const [start, end] = spans[i] as [number, number];
      expect(region.start).toBeGreaterThan(start - 0.5);
      expect(region.at).toBeLessThan(end + 0.7);
    });
  });

  it('ends open speech on flush and keeps its clock across pushes', async () => {
    const [first] = await loadRecordings();
    const detector = await createVoiceActivityDetector({ sampleRate: RATE, frameMs: 10 });
    try {
      const events = [...detector.push(new Int16Array(RATE)), ...detector.push(first!)];
      expect(events).toEqual([expect.objectContaining({ type: 'speech_started' })]);
      expect(detector.speaking).toBe(true);
      const [end] = detector.flush();
      expect(end).toMatchObject({ type: 'speech_ended', start: events[0]!.at });
      expect(end!.at).toBeGreaterThan(1 + first!.length / RATE - 1);
      expect(detector.speaking).toBe(false);
      expect(detector.position).toBe(1 + first!.length / RATE);
    } finally {
      detector.close();
    }
  });

  it('rejects a sample rate WebRTC VAD does not take with unsupported_audio_format', async () => {
    await expect(createVoiceActivityDetector({ sampleRate: 44100 })).rejects.toMatchObject({
      name: 'EarshotError',
      code: 'unsupported_audio_format',
    });
  });

  it('frees its WASM instance on close and refuses audio afterwards', async () => {
    const before = openWebRtcVadCount();
    const detector = await createVoiceActivityDetector({ sampleRate: 8000 });
    expect(openWebRtcVadCount()).toBe(before + 1);
    detector.close();
    detector.close();
    expect(openWebRtcVadCount()).toBe(before);
    expect(() => detector.push(new Int16Array(80))).toThrow(/after close/);
  });
});
