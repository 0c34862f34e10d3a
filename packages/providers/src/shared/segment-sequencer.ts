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
    const id = this.currentId;
    this.open = true;
    return { ...this.withPieces(result), segmentId: id, isFinal: false };
  }

  /** The one final of the current utterance; the next result starts a new one. */
  final(result: SequencedResult): ProviderTranscript {
    const id = this.currentId;
    const merged = this.withPieces(result);
    this.advance();
    return { ...merged, segmentId: id, isFinal: true };
  }

  /** A finished piece of the current utterance, held until {@link closeSegment}. */
  appendFinal(result: SequencedResult): ProviderTranscript {
    const id = this.currentId;
    this.open = true;
    this.pieces.push(result);
    return { ...merge(this.pieces), segmentId: id, isFinal: false };
  }

  /** Closes the utterance with the pieces held, or returns `undefined` if it has none. */
  closeSegment(): ProviderTranscript | undefined {
    if (this.pieces.length === 0) {
      // An utterance with interims only (the vendor never finalised text) has no final.
      this.advance();
      return undefined;
    }
    const id = this.currentId;
    const merged = merge(this.pieces);
    this.advance();
    return { ...merged, segmentId: id, isFinal: true };
  }

  /** `result` after the final pieces held; most utterances have none, and it is taken as is. */
  private withPieces(result: SequencedResult): Omit<ProviderTranscript, 'segmentId' | 'isFinal'> {
    return this.pieces.length === 0 ? alone(result) : merge([...this.pieces, result]);
  }

  private advance(): void {
    this.count++;
    this.open = false;
    this.pieces = [];
  }
}

/** One result as a transcript, as {@link merge} would make it, without its copies. */
function alone(result: SequencedResult): Omit<ProviderTranscript, 'segmentId' | 'isFinal'> {
  const text = result.text.trim();
  if (text === '') return merge([result]);
  return {
    text,
    words: result.words,
    start: result.start,
    end: result.end,
    ...(result.confidence === undefined ? {} : { confidence: result.confidence }),
    ...(result.speaker === undefined ? {} : { speaker: result.speaker }),
  };
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
