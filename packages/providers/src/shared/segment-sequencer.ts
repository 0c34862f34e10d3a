import type { Word } from '@earshot/protocol';
import type { ProviderTranscript } from '../stt-provider.js';

/** A vendor result, before Earshot gives it a segment id. */
export interface SequencedResult {
  readonly text: string;
  readonly confidence?: number;
  readonly words: readonly Word[];
  /** Seconds of stream audio. */
  readonly start: number;
  readonly end: number;
  readonly speaker?: number;
}

/**
 * Gives vendor results Earshot's segment semantics: one `segmentId` per utterance, interim
 * revisions under it, exactly one final that closes it. Vendors that finalise an utterance in
 * several pieces (Deepgram's `is_final` spans before `speech_final`) call {@link appendFinal}
 * for the pieces and {@link closeSegment} at the end of the utterance.
 *
 * @example
 * ```ts
 * const segments = new SegmentSequencer('dg-3f2a');
 * segments.interim({ text: 'hello', words: [], start: 0, end: 0.4 }); // { segmentId: 'dg-3f2a-1', isFinal: false }
 * segments.final({ text: 'hello world', words: [], start: 0, end: 0.9 }); // same id, isFinal: true
 * ```
 */
export class SegmentSequencer {
  private count = 0;
  private open = false;
  private pieces: SequencedResult[] = [];

  /** @param prefix unique per stream, so ids never repeat across streams of a session. */
  constructor(private readonly prefix: string) {}

  /** The id results go under now. */
  get currentId(): string {
    return `${this.prefix}-${this.count + 1}`;
  }

  /** Whether an utterance has interims or final pieces that its final has not closed. */
  get hasOpenSegment(): boolean {
    return this.open;
  }

  /** An interim revision of the current utterance (with any final pieces before it). */
  interim(result: SequencedResult): ProviderTranscript {
    this.open = true;
    return transcript(this.withPieces(result), this.currentId, false);
  }

  /** The one final of the current utterance; the next result starts a new one. */
  final(result: SequencedResult): ProviderTranscript {
    const final = transcript(this.withPieces(result), this.currentId, true);
    this.advance();
    return final;
  }

  /** A finished piece of the current utterance, held until {@link closeSegment}. */
  appendFinal(result: SequencedResult): ProviderTranscript {
    this.open = true;
    this.pieces.push(result);
    return transcript(this.pieces, this.currentId, false);
  }

  /** Closes the utterance with the pieces held, or returns `undefined` if it has none. */
  closeSegment(): ProviderTranscript | undefined {
    if (this.pieces.length === 0) {
      // An utterance with interims only (the vendor never finalised text) has no final.
      this.advance();
      return undefined;
    }
    const final = transcript(this.pieces, this.currentId, true);
    this.advance();
    return final;
  }

  /** `result` after the final pieces held (most utterances have none). */
  private withPieces(result: SequencedResult): readonly SequencedResult[] {
    return this.pieces.length === 0 ? [result] : [...this.pieces, result];
  }

  private advance(): void {
    this.count++;
    this.open = false;
    this.pieces = [];
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The results of one utterance as one transcript: texts joined, words in order, the span from
 * the first to the last, confidence averaged. Every result of every stream comes through here,
 * so one result with words (the usual case) is taken as it is, without copies.
 */
function transcript(
  results: readonly SequencedResult[],
  segmentId: string,
  isFinal: boolean,
): ProviderTranscript {
  const only = results.length === 1 ? results[0]! : undefined;
  const text = only?.text.trim();
  if (only !== undefined && text !== '') {
    const out: Mutable<ProviderTranscript> = {
      segmentId,
      isFinal,
      text: text!,
      words: only.words,
      start: only.start,
      end: only.end,
    };
    if (only.confidence !== undefined) out.confidence = only.confidence;
    if (only.speaker !== undefined) out.speaker = only.speaker;
    return out;
  }
  return { ...merge(results), segmentId, isFinal };
}

function merge(
  results: readonly SequencedResult[],
): Omit<ProviderTranscript, 'segmentId' | 'isFinal'> {
  const parts = results.filter((r) => r.text.trim() !== '');
  const first = results[0];
  const last = results[results.length - 1];
  const confidences = parts.map((r) => r.confidence).filter((c): c is number => c !== undefined);
  const speaker = parts.find((r) => r.speaker !== undefined)?.speaker;
  return {
    text: parts.map((r) => r.text.trim()).join(' '),
    words: parts.flatMap((r) => r.words),
    start: first?.start ?? 0,
    end: last?.end ?? 0,
    ...(confidences.length > 0
      ? { confidence: confidences.reduce((a, b) => a + b, 0) / confidences.length }
      : {}),
    ...(speaker === undefined ? {} : { speaker }),
  };
}
