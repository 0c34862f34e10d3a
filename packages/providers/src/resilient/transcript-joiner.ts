import type { Word } from '@earshot/protocol';
import type { ProviderTranscript } from '../stt-provider.js';

/**
 * Joins the transcripts of the upstreams a session goes through (reconnects, rollovers,
 * failover) into one sequence with Earshot's guarantees: session-wide segment ids, exactly
 * one final per segment, and no word twice. Replayed audio is transcribed again by the new
 * upstream, so what ends at or before the last final is a duplicate: dropped whole, or
 * trimmed word by word when it straddles the boundary. Times are session seconds.
 */
export class TranscriptJoiner {
  private lastFinalEnd = 0;
  private nextNumber = 1;
  private readonly ids = new Map<string, string>();
  private readonly finalized = new Set<string>();
  private pending: ProviderTranscript | undefined;
  private carried: string | undefined;
  /** Finals dropped as duplicates of what was already final. */
  duplicatesDropped = 0;

  constructor(private readonly prefix: string) {}

  /** End of the last final, in session seconds: audio before it never needs replaying. */
  get finalEnd(): number {
    return this.lastFinalEnd;
  }

  /** The interim of the segment still open, if any. */
  get openInterim(): ProviderTranscript | undefined {
    return this.pending;
  }

  /**
   * Takes a transcript from upstream `upstream` (times already in session seconds); returns
   * it as the session should emit it, or `undefined` when it is a duplicate.
   */
  accept(upstream: number, transcript: ProviderTranscript): ProviderTranscript | undefined {
    const trimmed = this.withoutRepeats(transcript);
    if (trimmed === undefined) {
      if (transcript.isFinal) this.duplicatesDropped++;
      return undefined;
    }
    const key = `${upstream}/${transcript.segmentId}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.carried ?? `${this.prefix}-${this.nextNumber++}`;
      this.carried = undefined;
      this.ids.set(key, id);
    }
    if (this.finalized.has(id)) return undefined;
    const out = { ...trimmed, segmentId: id };
    if (out.isFinal) {
      // A segment sends nothing after its final: its key goes, and only the latest finalised
      // ids are remembered, so a session of hours holds no more than one of minutes.
      this.ids.delete(key);
      this.finalized.add(id);
      if (this.finalized.size > FINALIZED_REMEMBERED) {
        this.finalized.delete(this.finalized.values().next().value!);
      }
      this.lastFinalEnd = Math.max(this.lastFinalEnd, out.end);
      this.pending = undefined;
    } else {
      this.pending = out;
    }
    return out;
  }

  /**
   * An upstream died: its open segment (interims shown, no final) is taken over by the next
   * segment any upstream starts, so the client still gets one final under that id.
   */
  upstreamLost(): void {
    if (this.pending !== undefined) this.carried = this.pending.segmentId;
  }

  /** Ends the open segment with its last interim as the final (a final that never came). */
  promoteOpenInterim(): ProviderTranscript | undefined {
    const open = this.pending;
    if (open === undefined) return undefined;
    this.pending = undefined;
    this.finalized.add(open.segmentId);
    this.lastFinalEnd = Math.max(this.lastFinalEnd, open.end);
    return { ...open, isFinal: true };
  }

  // A word belongs to what is final when its middle is: vendors place the same word tens of
  // milliseconds apart from one stream to the next, but never by half its length.
  private withoutRepeats(t: ProviderTranscript): ProviderTranscript | undefined {
    const boundary = this.lastFinalEnd;
    if (boundary === 0) return t;
    // A span without length (an interim not yet aligned) is new when it sits at the boundary.
    const isRepeat = (w: { start: number; end: number }) =>
      w.end > w.start ? (w.start + w.end) / 2 <= boundary : w.end < boundary;
    if (t.words.length === 0) {
      // No words to weigh: the whole result is a repeat when it lies within what is final.
      return isRepeat(t) ? undefined : t;
    }
    const kept: Word[] = t.words.filter((w) => !isRepeat(w));
    if (kept.length === t.words.length) return t;
    if (kept.length === 0) return undefined;
    return {
      ...t,
      words: kept,
      text: kept.map((w) => w.word).join(' '),
      start: kept[0]!.start,
    };
  }
}

// Finalised segment ids remembered against a late repeat (far more than can be in flight).
const FINALIZED_REMEMBERED = 64;
