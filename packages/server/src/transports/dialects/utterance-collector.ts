import type { ServerMessageInput } from '@earshot/protocol';

// A final ending this close to a cut leaves at most the speaker's trailing silence undecoded.
const CLOSE_TO_CUT_SECONDS = 1.5;

/** One utterance: the finals said in it, and their text joined. */
export interface CollectedUtterance {
  readonly text: string;
  /** Segment ids of its finals, in order. */
  readonly segments: readonly string[];
  /** Seconds of session audio: from its first final's start to its last final's end. */
  readonly start: number;
  readonly end: number;
}

/** Options of {@link UtteranceCollector}. */
export interface UtteranceCollectorOptions {
  /**
   * What ends an utterance. `pause` (default): the provider's `utterance_end`, or `quietMs`
   * after a final with no speech since. `cut`: only {@link UtteranceCollector.cut} (the
   * frontend says when the user stopped speaking); the provider's pauses inside do not.
   */
  readonly endsOn?: 'pause' | 'cut';
  /** `pause`: how long after a final, with no interim since, the utterance is over. Default 1500. */
  readonly quietMs?: number;
  /** `cut`: how long to wait for the finals of audio already sent. Default 3000. */
  readonly cutDeadlineMs?: number;
  /** `cut`: after a final, how long to wait for another before the utterance is over. Default 400. */
  readonly cutSettleMs?: number;
}

/**
 * Joins a session's finals into utterances, for dialects whose frontends want one message per
 * thing said (seed 003's accumulated `final_transcript`, seed 004's turn-by-turn replies)
 * rather than Earshot's segments. Fed every message the session sends; calls `done` once per
 * utterance, in order; an utterance with no words is reported only when it was `cut`.
 */
export class UtteranceCollector {
  private finals: { text: string; segmentId: string; start: number; end: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private awaitingCut = false;
  /** Where the pending cut is, in seconds of session audio: later finals are the next utterance's. */
  private cutAt = Number.POSITIVE_INFINITY;
  /** Whether the provider has shown speech (interims) it has not given a final for yet. */
  private pending = false;
  private readonly endsOn: 'pause' | 'cut';

  constructor(
    private readonly done: (utterance: CollectedUtterance) => void,
    private readonly options: UtteranceCollectorOptions = {},
  ) {
    this.endsOn = options.endsOn ?? 'pause';
  }

  /** Reads one message the session sends. */
  observe(message: ServerMessageInput): void {
    if (message.type === 'transcript') {
      if (!message.isFinal) {
        if (message.text.trim() === '') return;
        this.pending = true;
        // Speech goes on: a pause has not ended the utterance yet.
        if (this.endsOn === 'pause') this.clearTimer();
        // The provider is still working through audio before the cut: give it time again.
        else if (this.awaitingCut) this.arm(this.options.cutDeadlineMs ?? 3000);
        return;
      }
      this.pending = false;
      const start = message.start ?? 0;
      if (message.text.trim() !== '') {
        this.finals.push({
          text: message.text.trim(),
          segmentId: message.segmentId,
          start,
          end: message.end ?? 0,
        });
      }
      if (this.endsOn === 'pause') {
        if (this.finals.length > 0) this.arm(this.options.quietMs ?? 1500);
      } else if (this.awaitingCut) {
        // A final from after the cut: the provider is past it, so the cut utterance is whole.
        if (start >= this.cutAt) this.flush();
        // Close to the cut: at most silence is left. Further from it (a whole utterance sent at
        // once, a slow engine), more of it may still be decoding.
        else if (this.cutAt - (message.end ?? 0) <= CLOSE_TO_CUT_SECONDS) {
          this.arm(this.options.cutSettleMs ?? 400);
        } else this.arm(this.options.cutDeadlineMs ?? 3000);
      }
      return;
    }
    if (message.type !== 'utterance_end') return;
    this.pending = false;
    if (this.endsOn === 'pause') this.flush();
    else if (this.awaitingCut) this.arm(this.options.cutSettleMs ?? 400);
  }

  /**
   * The frontend says the user stopped speaking (`cut` mode) at `atSeconds` of session audio:
   * the utterance is what the finals of the audio before it say, once they have come (the
   * caller asks the session to `finalize`). Finals of later audio wait for the next cut.
   */
  cut(atSeconds = Number.POSITIVE_INFINITY): void {
    this.awaitingCut = true;
    this.cutAt = atSeconds;
    // The provider already closed its last segment at the pause before the cut: only a short
    // settle is needed. Otherwise (speech shown in interims and not yet final, or nothing heard
    // yet, e.g. the provider is still opening) its finals are on the way: wait for them.
    const settled = !this.pending && this.finals.some((f) => f.start < atSeconds);
    this.arm(settled ? (this.options.cutSettleMs ?? 400) : (this.options.cutDeadlineMs ?? 3000));
  }

  /** Ends the current utterance now (the session is ending). */
  flush(): void {
    this.clearTimer();
    const cut = this.awaitingCut;
    const cutAt = this.cutAt;
    this.awaitingCut = false;
    this.cutAt = Number.POSITIVE_INFINITY;
    const finals = this.finals.filter((f) => f.start < cutAt);
    this.finals = this.finals.filter((f) => f.start >= cutAt);
    if (finals.length === 0 && !cut) return;
    this.done({
      text: finals.map((f) => f.text).join(' '),
      segments: finals.map((f) => f.segmentId),
      start: finals[0]?.start ?? 0,
      end: finals.at(-1)?.end ?? 0,
    });
  }

  /** Drops what is held and stops the timer. */
  dispose(): void {
    this.clearTimer();
    this.finals = [];
    this.awaitingCut = false;
    this.cutAt = Number.POSITIVE_INFINITY;
    this.pending = false;
  }

  private arm(ms: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => this.flush(), ms);
    this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
