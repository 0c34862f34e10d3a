import type { Word } from '@earshot/protocol';
import { type DecodedSegment, FRAMES_PER_SECOND } from './pocketsphinx-binding.js';

/**
 * Whether a dictionary entry is a filler rather than a word: sentence marks (`<s>`, `</s>`),
 * silence (`<sil>`) and noise (`[NOISE]`, `++BREATH++`). PocketSphinx leaves these out of the
 * hypothesis it prints, so we leave them out of words too.
 */
export function isFillerWord(word: string): boolean {
  return word === '' || word.startsWith('<') || word.startsWith('[') || word.startsWith('++');
}

/** The base word of an alternate pronunciation: `been(2)` → `been`. */
export function baseWord(word: string): string {
  return word.replace(/\(\d+\)$/, '');
}

/** Where an utterance sits on the stream's audio timeline, to place its frames. */
export interface UtteranceTimeline {
  /** The stream frame (1/100 s) the decoder's utterance frame 0 corresponds to. */
  readonly offsetFrames: number;
  /** No word may start before this (seconds): the end of the previous final. */
  readonly floor: number;
  /** No word may end after this (seconds): the audio the decoder has been given. */
  readonly ceiling: number;
}

const roundMs = (seconds: number) => Math.round(seconds * 1000) / 1000;

/**
 * Turns PocketSphinx segments into protocol words on the stream's clock. Fillers are
 * dropped and alternates renamed. Times are clamped so that they stay in
 * [floor, ceiling], never go backwards and always have start ≤ end: the detector drops
 * some silence frames, so utterance frame numbers are only an estimate of stream time.
 */
export function segmentsToWords(
  segments: readonly DecodedSegment[],
  timeline: UtteranceTimeline,
): Word[] {
  const words: Word[] = [];
  const ceiling = Math.max(timeline.floor, timeline.ceiling);
  let cursor = timeline.floor;
  for (const segment of segments) {
    if (isFillerWord(segment.word)) continue;
    const rawStart = (timeline.offsetFrames + segment.startFrame) / FRAMES_PER_SECOND;
    // endFrame is inclusive: the word lasts until the end of that frame.
    const rawEnd = (timeline.offsetFrames + segment.endFrame + 1) / FRAMES_PER_SECOND;
    const start = roundMs(Math.min(ceiling, Math.max(cursor, rawStart)));
    const end = roundMs(Math.min(ceiling, Math.max(start, rawEnd)));
    words.push({
      word: baseWord(segment.word),
      start,
      end,
      confidence: roundMs(segment.probability),
    });
    cursor = end;
  }
  return words;
}

/** The mean word confidence, or `undefined` without words. */
export function meanConfidence(words: readonly Word[]): number | undefined {
  if (words.length === 0) return undefined;
  let sum = 0;
  for (const word of words) sum += word.confidence ?? 0;
  return roundMs(sum / words.length);
}
