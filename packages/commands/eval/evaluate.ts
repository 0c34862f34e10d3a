// Precision, recall and slot accuracy of a command detector on the evaluation corpus: every
// utterance spoken by every voice, as the local engine transcribed it.
// Run from the repository root: npx tsx --conditions=@earshot/source packages/commands/eval/evaluate.ts
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CommandDetector, clinicalCommands, createCommandDetector } from '../src/index.js';

/** One utterance of the corpus, with what it was meant to do. */
export interface CorpusUtterance {
  readonly id: string;
  readonly text: string;
  readonly command: { readonly name: string; readonly slots: Record<string, unknown> } | null;
}

/** One utterance spoken by one voice, as the local engine heard it. */
export interface CorpusSample {
  readonly utteranceId: string;
  readonly voice: string;
  readonly transcript: string;
  readonly wer: number;
}

/** The corpus file (corpus.json). */
export interface Corpus {
  readonly utterances: readonly CorpusUtterance[];
  readonly samples: readonly CorpusSample[];
}

/** How a detector fares on a set of samples. */
export interface Scores {
  readonly samples: number;
  readonly commands: number;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
  readonly precision: number;
  readonly recall: number;
  /** Of the commands found and right, the share whose every slot is right. */
  readonly slotAccuracy: number;
}

/** A sample the detector got wrong, for the report. */
export interface Miss {
  readonly kind: 'false positive' | 'missed' | 'wrong slots';
  readonly sample: CorpusSample;
  readonly intended: CorpusUtterance['command'];
  readonly found: unknown;
}

export function loadCorpus(path = join(import.meta.dirname, 'corpus.json')): Corpus {
  return JSON.parse(readFileSync(path, 'utf8')) as Corpus;
}

/** Scores `detector` on the samples `keep` selects. */
export function evaluate(
  corpus: Corpus,
  detector: CommandDetector,
  keep: (sample: CorpusSample) => boolean = () => true,
): { scores: Scores; misses: Miss[] } {
  const byId = new Map(corpus.utterances.map((u) => [u.id, u]));
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let slotsRight = 0;
  let samples = 0;
  let commands = 0;
  const misses: Miss[] = [];
  for (const sample of corpus.samples) {
    if (!keep(sample)) continue;
    const utterance = byId.get(sample.utteranceId);
    if (!utterance) continue;
    samples++;
    const intended = utterance.command;
    if (intended) commands++;
    const [found] = detector.detect(sample.transcript);
    if (!intended) {
      if (found) {
        fp++;
        misses.push({ kind: 'false positive', sample, intended, found });
      }
      continue;
    }
    if (!found || found.name !== intended.name) {
      fn++;
      if (found) fp++;
      misses.push({ kind: found ? 'false positive' : 'missed', sample, intended, found });
      continue;
    }
    tp++;
    if (sameSlots(found.slots, intended.slots)) slotsRight++;
    else misses.push({ kind: 'wrong slots', sample, intended, found: found.slots });
  }
  const ratio = (a: number, b: number) => (b === 0 ? 1 : a / b);
  return {
    scores: {
      samples,
      commands,
      truePositives: tp,
      falsePositives: fp,
      falseNegatives: fn,
      precision: ratio(tp, tp + fp),
      recall: ratio(tp, tp + fn),
      slotAccuracy: ratio(slotsRight, tp),
    },
    misses,
  };
}

function sameSlots(
  found: Readonly<Record<string, unknown>>,
  meant: Record<string, unknown>,
): boolean {
  return Object.entries(meant).every(([name, value]) =>
    typeof value === 'string'
      ? String(found[name] ?? '').replace(/[^a-z0-9 ]/g, '') === value.replace(/[^a-z0-9 ]/g, '')
      : JSON.stringify(found[name]) === JSON.stringify(value),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const corpus = loadCorpus();
  const detector = createCommandDetector(clinicalCommands());
  const show = (s: Scores) =>
    `${s.samples} samples (${s.commands} commands): precision ${s.precision.toFixed(3)}, recall ${s.recall.toFixed(3)}, slot accuracy ${s.slotAccuracy.toFixed(3)}`;
  const all = evaluate(corpus, detector);
  const clear = evaluate(corpus, detector, (s) => s.wer <= 0.3);
  console.log(`all samples: ${show(all.scores)}`);
  console.log(`WER ≤ 0.3:   ${show(clear.scores)}`);
  const started = performance.now();
  for (const sample of corpus.samples) detector.detect(sample.transcript);
  console.log(
    `matching: ${(((performance.now() - started) * 1000) / corpus.samples.length).toFixed(0)} µs per transcript`,
  );
  for (const miss of clear.misses.slice(0, 40)) {
    console.log(
      `${miss.kind}: [${miss.sample.voice}] "${miss.sample.transcript}" — meant ${JSON.stringify(miss.intended)}, found ${JSON.stringify(miss.found)}`,
    );
  }
}
