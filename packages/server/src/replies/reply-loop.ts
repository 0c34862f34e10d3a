import { EarshotError, type Logger, type Metadata } from '@earshot/protocol';
import type { Reply, ReplyTurn, Responder } from './responder.js';

/** What became of one utterance handed to the loop. */
export type ReplyOutcome =
  | { readonly transcript: string; readonly reply: Reply }
  | { readonly transcript: string; readonly error: EarshotError };

/** Options of {@link ReplyLoop}. */
export interface ReplyLoopOptions {
  readonly sessionId: string;
  /** The session's metadata as it is when a reply is asked for (it may change meanwhile). */
  readonly metadata: () => Metadata;
  /** Earlier exchanges given to the responder. Default 10. */
  readonly maxHistory?: number;
  /**
   * Called as an utterance's turn comes, before the responder is asked: a dialect that pairs
   * each transcript with its reply (seed 004) sends the transcript here.
   */
  readonly onTurn?: (transcript: string) => void;
  /** Utterances waiting while one is answered; older ones beyond this are dropped. Default 8. */
  readonly maxQueued?: number;
  readonly logger: Logger;
}

/**
 * The reply loop of one session: each final utterance handed to {@link ReplyLoop.push} is
 * answered by the responder, one at a time and in order (seed 004: one utterance processed at
 * a time per client, while its audio keeps arriving), with the session's earlier exchanges as
 * history. Every outcome, reply or error, goes to `deliver`; the loop never throws.
 */
export class ReplyLoop {
  private readonly queue: string[] = [];
  private readonly history: ReplyTurn[] = [];
  private current: AbortController | undefined;
  private running = false;
  private closed = false;

  constructor(
    private readonly responder: Responder,
    private readonly deliver: (outcome: ReplyOutcome) => void | Promise<void>,
    private readonly options: ReplyLoopOptions,
  ) {}

  /** Whether an utterance is being answered (or its reply delivered) now. */
  get busy(): boolean {
    return this.running;
  }

  /** Queues an utterance to answer. */
  push(transcript: string): void {
    if (this.closed) return;
    this.queue.push(transcript);
    const max = this.options.maxQueued ?? 8;
    if (this.queue.length > max) {
      const dropped = this.queue.splice(0, this.queue.length - max);
      this.options.logger.warn(
        { sessionId: this.options.sessionId, dropped: dropped.length },
        'reply loop: utterances came faster than replies; the oldest were dropped',
      );
    }
    if (!this.running) void this.drain();
  }

  /** Aborts the reply being made (the user spoke over it); queued utterances stay. */
  interrupt(): void {
    this.current?.abort(new EarshotError('provider_error', 'the reply was interrupted'));
  }

  /** Stops: the reply being made is aborted, queued ones are dropped. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.current?.abort(new EarshotError('session_ended', 'the session ended'));
  }

  private async drain(): Promise<void> {
    this.running = true;
    for (let transcript = this.queue.shift(); transcript !== undefined && !this.closed; ) {
      await this.answer(transcript);
      transcript = this.queue.shift();
    }
    this.running = false;
  }

  private async answer(transcript: string): Promise<void> {
    this.options.onTurn?.(transcript);
    const controller = new AbortController();
    this.current = controller;
    let outcome: ReplyOutcome;
    try {
      const reply = await this.responder.respond({
        transcript,
        sessionId: this.options.sessionId,
        metadata: this.options.metadata(),
        history: [...this.history],
        signal: controller.signal,
      });
      this.remember({ user: transcript, assistant: reply.text });
      outcome = { transcript, reply };
    } catch (error) {
      outcome = { transcript, error: EarshotError.from(error, 'provider_error') };
      this.options.logger.warn(
        { sessionId: this.options.sessionId, responder: this.responder.name, err: error },
        'reply loop: the responder failed',
      );
    } finally {
      this.current = undefined;
    }
    if (this.closed) return;
    try {
      await this.deliver(outcome);
    } catch (error) {
      this.options.logger.error(
        { sessionId: this.options.sessionId, err: error },
        'reply loop: delivering a reply failed',
      );
    }
  }

  private remember(turn: ReplyTurn): void {
    this.history.push(turn);
    const max = this.options.maxHistory ?? 10;
    if (this.history.length > max) this.history.splice(0, this.history.length - max);
  }
}
