import type { RealtimeWireError } from './openai-wire.js';

/** What the stream knows of one input audio item (one utterance) while it is pending. */
export interface SpokenItem {
  readonly id: string;
  /** Seconds of stream audio, from `speech_started`. */
  start?: number;
  /** Seconds of stream audio, from `speech_stopped` or the commit. */
  end?: number;
  /** Whether `end` came from `speech_stopped` (a pause), not from a commit. */
  stopped: boolean;
  committed: boolean;
  /** The deltas so far, concatenated. */
  text: string;
  /** How the transcription ended, once it has. */
  outcome?:
    | { readonly kind: 'completed'; readonly transcript: string; readonly confidence?: number }
    | { readonly kind: 'failed'; readonly error: RealtimeWireError };
}

/** Receives each item's events in spoken order. */
export interface SpokenOrderSink {
  /** The head item's text grew. */
  interim(item: SpokenItem): void;
  /** The head item's speaker paused. */
  utteranceEnd(item: SpokenItem): void;
  /** The head item's transcription ended (`outcome` is set); it leaves the order. */
  settle(item: SpokenItem): void;
}

/**
 * Puts OpenAI's transcription items back in spoken order. Items are transcribed in parallel
 * and may complete out of order; `input_audio_buffer.committed` chains each item to the one
 * before it (`previous_item_id`). Only the earliest pending item, the head, reaches the sink
 * live: a later item's deltas, pause and completion are held until every item before it has
 * settled, then replayed in order. So segments never interleave and finals come out as spoken.
 *
 * @example
 * ```ts
 * const order = new SpokenItemOrder(sink);
 * order.committed('a', null);
 * order.committed('b', 'a');
 * order.completed('b', 'world'); // held: 'a' is still pending
 * order.completed('a', 'hello'); // sink.settle(a), then sink.settle(b)
 * ```
 */
export class SpokenItemOrder {
  private readonly pending: SpokenItem[] = [];
  /** Items that have left the order; late events for them are ignored. */
  private readonly settled = new Set<string>();
  // What the sink has been told of each item, kept off the item so it holds vendor facts only.
  private readonly announced = new WeakSet<SpokenItem>();
  private readonly shown = new WeakMap<SpokenItem, string>();

  constructor(private readonly sink: SpokenOrderSink) {}

  /** Items not settled yet. */
  get size(): number {
    return this.pending.length;
  }

  /** Whether someone is speaking into an item that is neither stopped nor committed. */
  get speaking(): boolean {
    return this.pending.some((i) => i.start !== undefined && !i.stopped && !i.committed);
  }

  /** Whether the item's speaker paused (`speech_stopped`): the server committed it itself. */
  isStopped(id: string): boolean {
    return this.pending.find((i) => i.id === id)?.stopped ?? false;
  }

  speechStarted(id: string, start: number): void {
    const item = this.item(id);
    if (item) item.start ??= start;
    this.drain();
  }

  speechStopped(id: string, end: number): void {
    const item = this.item(id);
    if (item) {
      item.end = end;
      item.stopped = true;
    }
    this.drain();
  }

  /**
   * The item is committed after `previousId`. An item whose predecessor is not pending (it
   * has settled, or there is none) comes before every pending item: what precedes it is done.
   * `end` is its end when no `speech_stopped` gave one.
   */
  committed(id: string, previousId: string | null | undefined, end?: number): void {
    if (this.settled.has(id)) return;
    const index = this.pending.findIndex((i) => i.id === id);
    const item = index >= 0 ? this.pending.splice(index, 1)[0]! : newItem(id);
    item.committed = true;
    if (item.end === undefined && end !== undefined) item.end = end;
    const after = previousId ? this.pending.findIndex((i) => i.id === previousId) : -1;
    this.pending.splice(after + 1, 0, item);
    this.drain();
  }

  delta(id: string, text: string): void {
    const item = this.item(id);
    if (item && !item.outcome) item.text += text;
    this.drain();
  }

  completed(id: string, transcript: string, confidence?: number): void {
    const item = this.item(id);
    if (item && !item.outcome) {
      item.outcome = {
        kind: 'completed',
        transcript,
        ...(confidence === undefined ? {} : { confidence }),
      };
    }
    this.drain();
  }

  failed(id: string, error: RealtimeWireError): void {
    const item = this.item(id);
    if (item && !item.outcome) item.outcome = { kind: 'failed', error };
    this.drain();
  }

  /** `input_audio_buffer.cleared`: speech not yet committed will never be transcribed. */
  cleared(): void {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const item = this.pending[i]!;
      if (!item.committed && !item.outcome) {
        this.pending.splice(i, 1);
        this.settled.add(item.id);
      }
    }
    this.drain();
  }

  /**
   * Settles every pending item with what it has (its deltas as the transcript), in order:
   * for an `end()` whose completions did not all arrive in time.
   */
  flush(): void {
    for (const item of this.pending) {
      item.outcome ??= { kind: 'completed', transcript: item.text };
    }
    this.drain();
  }

  private item(id: string): SpokenItem | undefined {
    if (this.settled.has(id)) return undefined;
    let item = this.pending.find((i) => i.id === id);
    if (!item) {
      // First heard of now: events arrive in audio order, so it is the latest.
      item = newItem(id);
      this.pending.push(item);
    }
    return item;
  }

  private drain(): void {
    for (;;) {
      const head = this.pending[0];
      if (!head) return;
      if (head.stopped && !this.announced.has(head)) {
        this.announced.add(head);
        this.sink.utteranceEnd(head);
      }
      if (head.outcome) {
        this.pending.shift();
        this.settled.add(head.id);
        this.sink.settle(head);
        continue;
      }
      if ((this.shown.get(head) ?? '') !== head.text) {
        this.shown.set(head, head.text);
        this.sink.interim(head);
      }
      return;
    }
  }
}

function newItem(id: string): SpokenItem {
  return { id, stopped: false, committed: false, text: '' };
}
