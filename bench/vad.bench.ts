// How well the voice activity detector finds speech, against a baseline in the same run.
// A labeled corpus is built here: PocketSphinx's five LibriVox recordings and three
// synthesized sentences (espeak-ng, flite), joined by 1–2 s of digital silence. Labels are the
// known spans of each recording, tightened to its first and last 10 ms frame within 35 dB of
// the recording's loudest frame (so a recording's own lead-in hiss is not counted as speech).
// The corpus is then scored clean and with white or pink noise mixed in at 10 and 5 dB SNR.
//
// Detectors (each through the same hysteresis, createSpeechSegmenter: 30 ms frames, speech
// after 90 ms voiced, ends after 600 ms unvoiced, no padding), so only the classifier differs:
//   vad default        createVoiceActivityDetector as shipped: WebRTC VAD mode 2 and a noise
//                      gate 3 dB above a tracked floor;
//   vad mode 3 + gate  the same at mode 3;
//   webrtc mode N      WebRTC VAD alone (noiseGateDb: false) at aggressiveness N;
//   rms fixed          baseline: frame RMS above −40 dBFS;
//   rms adaptive       baseline: frame RMS 9 dB above a tracked noise floor.
// Scored per 10 ms frame, speech vs non-speech: precision, recall, F1; speed as × real time
// (seconds of audio per second of wall clock, one warm run over the whole corpus).
//
// Run from the repository root: npx tsx --conditions=@earshot/source bench/vad.bench.ts
import { readWavPcm16, seededRandom, speechFixtures, synthesizeSpeech } from '@earshot/testing';
import {
  createSpeechSegmenter,
  createVoiceActivityDetector,
  loadWebRtcVad,
  type VadEvent,
  type WebRtcVadMode,
} from '../packages/providers/src/vad/index.js';

const RATE = 16000;
const FRAME = 480; // 30 ms, the detectors' frame
const SCORE_FRAME = 160; // 10 ms, the scoring resolution
const SEGMENTER = { startSpeechFrames: 3, endSilenceFrames: 20, preSpeechPaddingSamples: 0 };

type Span = readonly [number, number]; // samples, [start, end)

function frameRms(pcm: Int16Array, start: number, length: number): number {
  let sum = 0;
  const end = Math.min(start + length, pcm.length);
  for (let i = start; i < end; i++) sum += pcm[i]! * pcm[i]!;
  return Math.sqrt(sum / Math.max(1, end - start));
}

// ---- corpus ----
const toSamples = (pcm: Buffer) => new Int16Array(Uint8Array.from(pcm).buffer);
const recordings: { name: string; pcm: Int16Array }[] = [];
for (const f of await speechFixtures()) {
  recordings.push({ name: f.name, pcm: toSamples((await readWavPcm16(f.path)).pcm) });
}
const sentences = [
  { text: 'please send the quarterly report to the finance team by friday', engine: 'espeak-ng' },
  { text: 'turn left at the next intersection and park near the blue door', engine: 'flite' },
  { text: 'the meeting has been moved to half past three in room twelve', engine: 'flite' },
] as const;
for (const [i, s] of sentences.entries()) {
  const voice = s.engine === 'flite' ? (i === 1 ? 'kal' : 'slt') : 'en-us';
  const path = await synthesizeSpeech(s.text, { engine: s.engine, voice });
  recordings.push({ name: `${s.engine}/${voice}`, pcm: toSamples((await readWavPcm16(path)).pcm) });
}

const next = seededRandom(7);
const gaps = recordings.map(() => Math.round((1 + next()) * RATE)); // 1–2 s before each
const tail = 2 * RATE;
const clean = new Int16Array(recordings.reduce((n, r, i) => n + r.pcm.length + gaps[i]!, tail));
const labels: Span[] = [];
let cursor = 0;
for (const [i, r] of recordings.entries()) {
  cursor += gaps[i]!;
  clean.set(r.pcm, cursor);
  let peak = 0;
  for (let s = 0; s < r.pcm.length; s += SCORE_FRAME) {
    peak = Math.max(peak, frameRms(r.pcm, s, SCORE_FRAME));
  }
  const floor = peak * 10 ** (-35 / 20);
  let first = -1;
  let last = -1;
  for (let s = 0; s < r.pcm.length; s += SCORE_FRAME) {
    if (frameRms(r.pcm, s, SCORE_FRAME) > floor) {
      if (first < 0) first = s;
      last = Math.min(s + SCORE_FRAME, r.pcm.length);
    }
  }
  labels.push([cursor + first, cursor + last]);
  cursor += r.pcm.length;
}
const seconds = clean.length / RATE;

function mixNoise(kind: 'white' | 'pink', snrDb: number, seed: number): Int16Array {
  const rand = seededRandom(seed);
  const noise = new Float64Array(clean.length);
  // Paul Kellet's economy pink filter (−3 dB/octave) over white noise.
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  for (let i = 0; i < noise.length; i++) {
    const white = rand() * 2 - 1;
    if (kind === 'white') {
      noise[i] = white;
      continue;
    }
    b0 = 0.99765 * b0 + white * 0.099046;
    b1 = 0.963 * b1 + white * 0.2965164;
    b2 = 0.57 * b2 + white * 1.0526913;
    noise[i] = b0 + b1 + b2 + white * 0.1848;
  }
  // SNR against the power of the labeled speech, so it means the same for every noise.
  let speechPower = 0;
  let speechSamples = 0;
  for (const [a, b] of labels) {
    for (let i = a; i < b; i++) speechPower += clean[i]! * clean[i]!;
    speechSamples += b - a;
  }
  let noisePower = 0;
  for (const v of noise) noisePower += v * v;
  const gain = Math.sqrt(
    speechPower / speechSamples / 10 ** (snrDb / 10) / (noisePower / noise.length),
  );
  const mixed = new Int16Array(clean.length);
  for (let i = 0; i < mixed.length; i++) {
    mixed[i] = Math.max(-32768, Math.min(32767, Math.round(clean[i]! + gain * noise[i]!)));
  }
  return mixed;
}

// ---- detectors: pcm in, speech regions (samples) out ----
type Detector = (pcm: Int16Array) => Promise<Span[]>;

function regionsOf(events: readonly VadEvent[]): Span[] {
  return events
    .filter((e) => e.type === 'speech_ended')
    .map((e) => [Math.round((e as { start: number }).start * RATE), Math.round(e.at * RATE)]);
}

const vad =
  (mode: WebRtcVadMode, noiseGateDb: number | false): Detector =>
  async (pcm) => {
    const detector = await createVoiceActivityDetector({ sampleRate: RATE, mode, noiseGateDb });
    try {
      return regionsOf([...detector.push(pcm), ...detector.flush()]);
    } finally {
      detector.close();
    }
  };

function energyDetector(voiced: (rms: number) => boolean): Detector {
  return async (pcm) => {
    const segmenter = createSpeechSegmenter({
      sampleRate: RATE,
      frameSamples: FRAME,
      ...SEGMENTER,
    });
    const events: VadEvent[] = [];
    for (let s = 0; s + FRAME <= pcm.length; s += FRAME) {
      const event = segmenter.frame(voiced(frameRms(pcm, s, FRAME)));
      if (event) events.push(event);
    }
    const last = segmenter.end(pcm.length);
    if (last) events.push(last);
    return regionsOf(events);
  };
}

const FIXED = 32768 * 10 ** (-40 / 20);
const rmsFixed: Detector = (pcm) => energyDetector((rms) => rms > FIXED)(pcm);

const rmsAdaptive: Detector = (pcm) => {
  // The floor drops at once to a quieter frame and rises slowly (+3 dB a second), so it
  // follows the background rather than the speech; never below −70 dBFS (digital silence).
  const minimum = 32768 * 10 ** (-70 / 20);
  const rise = 10 ** (3 / 20 / (RATE / FRAME));
  const margin = 10 ** (9 / 20);
  let floor = Number.POSITIVE_INFINITY;
  return energyDetector((rms) => {
    floor = Math.max(minimum, Math.min(floor * rise, rms));
    return rms > floor * margin;
  })(pcm);
};

// ---- scoring ----
function score(found: Span[]): { precision: number; recall: number; f1: number } {
  const frames = Math.floor(clean.length / SCORE_FRAME);
  const mark = (spans: Span[]) => {
    const marks = new Uint8Array(frames);
    for (const [a, b] of spans) {
      // A frame counts when its centre lies inside the span.
      const from = Math.max(0, Math.ceil((a - SCORE_FRAME / 2) / SCORE_FRAME));
      const to = Math.min(frames, Math.ceil((b - SCORE_FRAME / 2) / SCORE_FRAME));
      marks.fill(1, from, Math.max(from, to));
    }
    return marks;
  };
  const truth = mark(labels);
  const guess = mark(found);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < frames; i++) {
    if (guess[i] && truth[i]) tp++;
    else if (guess[i]) fp++;
    else if (truth[i]) fn++;
  }
  const precision = tp / Math.max(1, tp + fp);
  const recall = tp / Math.max(1, tp + fn);
  return { precision, recall, f1: (2 * precision * recall) / Math.max(1e-9, precision + recall) };
}

await loadWebRtcVad();
const detectors: [string, Detector][] = [
  ['vad default', vad(2, 3)],
  ['vad mode 3 + gate', vad(3, 3)],
  ['webrtc mode 0', vad(0, false)],
  ['webrtc mode 1', vad(1, false)],
  ['webrtc mode 2', vad(2, false)],
  ['webrtc mode 3', vad(3, false)],
  ['rms fixed −40 dBFS', rmsFixed],
  ['rms adaptive floor+9 dB', rmsAdaptive],
];
const conditions: [string, Int16Array][] = [
  ['clean', clean],
  ['white 10 dB', mixNoise('white', 10, 11)],
  ['pink 10 dB', mixNoise('pink', 10, 13)],
  ['white 5 dB', mixNoise('white', 5, 17)],
  ['pink 5 dB', mixNoise('pink', 5, 19)],
];

console.log(
  `corpus: ${recordings.length} recordings (${recordings.map((r) => r.name.replace(/^sense_and_sensibility_01_austen_64kb-/, 'librivox-')).join(', ')}), ${seconds.toFixed(1)} s, ` +
    `${((labels.reduce((n, [a, b]) => n + b - a, 0) / clean.length) * 100).toFixed(0)}% labeled speech; ${recordings.length} regions expected`,
);
// F1 of the speech class rewards calling everything speech when most frames are speech; this
// is that floor, and the regions column shows which detectors merely sit on it.
const everything = score([[0, clean.length]]);
console.log(
  `calling every frame speech scores precision ${everything.precision.toFixed(3)}, F1 ${everything.f1.toFixed(3)} in every condition`,
);
const pad = (s: string, n: number) => s.padEnd(n);
const num = (v: number) => v.toFixed(3).padStart(9);
console.log(
  `${pad('detector', 25)}${pad('condition', 13)}${'precision'.padStart(9)}${'recall'.padStart(9)}${'F1'.padStart(9)}${'regions'.padStart(9)}${'× RT'.padStart(9)}`,
);
const f1s = new Map<string, number[]>();
for (const [condition, pcm] of conditions) {
  for (const [name, detect] of detectors) {
    await detect(pcm); // warm-up: JIT, and the WASM module's first pages
    const started = performance.now();
    const found = await detect(pcm);
    const wall = (performance.now() - started) / 1000;
    const { precision, recall, f1 } = score(found);
    f1s.set(name, [...(f1s.get(name) ?? []), f1]);
    console.log(
      `${pad(name, 25)}${pad(condition, 13)}${num(precision)}${num(recall)}${num(f1)}${String(found.length).padStart(9)}${(seconds / wall).toFixed(0).padStart(9)}`,
    );
  }
  console.log('');
}
// One line to compare detectors: F1 over all conditions, and as a ratio to the baseline.
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const baseline = mean(f1s.get('rms adaptive floor+9 dB') ?? [1]);
console.log('mean F1 over the conditions (ratio to rms adaptive):');
for (const [name, values] of f1s) {
  console.log(`  ${pad(name, 25)}${num(mean(values))}   × ${(mean(values) / baseline).toFixed(2)}`);
}
