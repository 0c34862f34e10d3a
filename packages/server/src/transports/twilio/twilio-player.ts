import type { Logger } from '@earshot/protocol';
import { twilioOut } from './twilio-events.js';

/** 20 ms of μ-law 8 kHz: the frame Twilio plays. */
export const PHONE_FRAME_BYTES = 160;
const FRAME_MS = 20;
const MULAW_SILENCE = 0xff;

/** What became of audio played into a call. */
export type PlayOutcome = 'played' | 'interrupted';

interface Utterance {
  readonly mark: string;
  readonly frames: Uint8Array[];
  next: number;
  resolve(outcome: PlayOutcome): void;
  interrupted: boolean;
}

/**
 * Plays audio into a bidirectional Twilio stream: 160-byte μ-law frames paced at 20 ms (the
 * clock is kept against drift, not against each timer), a `mark` after each utterance, and
 * each utterance's promise settled when Twilio echoes its mark (the audio has played). A
 * barge-in sends `clear`: queued audio is dropped, and the utterances not yet played resolve
 * `interrupted`.
 */
export class TwilioPlayer {
  private readonly queue: Utterance[] = [];
  private readonly awaitingEcho = new Map<string, Utterance>();
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private sentFrames = 0;
  private count = 0;
  private stopped = false;
  /** Marks sent, in order, and marks Twilio echoed, in order. */
  readonly marks = { sent: [] as string[], echoed: [] as string[] };

  constructor(
    private readonly send: (text: string) => void,
    private readonly streamSid: string,
    private readonly logger: Logger,
  ) {}

  /** Bytes of audio queued and not yet sent. */
  get bufferedBytes(): number {
    return this.queue.reduce((sum, u) => sum + (u.frames.length - u.next) * PHONE_FRAME_BYTES, 0);
  }

  /** Whether audio is being played (queued, or sent and not yet echoed). */
  get playing(): boolean {
    return this.queue.length > 0 || this.awaitingEcho.size > 0;
  }

  /** Queues μ-law 8 kHz audio; resolves once Twilio has played it, or it was interrupted. */
  play(mulaw: Uint8Array): Promise<PlayOutcome> {
    if (this.stopped || mulaw.byteLength === 0) return Promise.resolve('interrupted');
    const frames: Uint8Array[] = [];
    for (let at = 0; at < mulaw.byteLength; at += PHONE_FRAME_BYTES) {
      const frame = new Uint8Array(PHONE_FRAME_BYTES).fill(MULAW_SILENCE);
      frame.set(mulaw.subarray(at, at + PHONE_FRAME_BYTES));
      frames.push(frame);
    }
    return new Promise((resolve) => {
      this.queue.push({
        mark: `earshot-${++this.count}`,
        frames,
        next: 0,
        resolve,
        interrupted: false,
      });
      if (!this.timer) {
        this.started = performance.now();
        this.sentFrames = 0;
        this.tick();
      }
    });
  }

  /** Twilio echoed `name`: the audio before it has played (or was cleared). */
  echoed(name: string): void {
    const utterance = this.awaitingEcho.get(name);
    if (!utterance) return;
    this.awaitingEcho.delete(name);
    this.marks.echoed.push(name);
    utterance.resolve(utterance.interrupted ? 'interrupted' : 'played');
  }

  /**
   * The caller spoke over the audio: `clear` drops what Twilio still holds; what is queued
   * here is dropped too. Resolves whether anything was playing.
   */
  bargeIn(): boolean {
    if (!this.playing) return false;
    for (const utterance of this.queue.splice(0)) utterance.resolve('interrupted');
    // Twilio echoes the pending marks after a clear; their plays resolve `interrupted` then.
    for (const utterance of this.awaitingEcho.values()) utterance.interrupted = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.send(twilioOut.clear(this.streamSid));
    this.logger.debug({ streamSid: this.streamSid }, 'barge-in: cleared the call’s audio');
    return true;
  }

  /** The call is over: everything still playing resolves `interrupted`. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const utterance of [...this.queue.splice(0), ...this.awaitingEcho.values()]) {
      utterance.resolve('interrupted');
    }
    this.awaitingEcho.clear();
  }

  /** Sends the frames now due, then sleeps until the next one is. */
  private tick(): void {
    const due = Math.floor((performance.now() - this.started) / FRAME_MS) + 1;
    while (this.sentFrames < due && this.queue.length > 0) {
      const utterance = this.queue[0]!;
      this.send(twilioOut.media(this.streamSid, utterance.frames[utterance.next++]!));
      this.sentFrames++;
      if (utterance.next === utterance.frames.length) {
        this.queue.shift();
        this.send(twilioOut.mark(this.streamSid, utterance.mark));
        this.marks.sent.push(utterance.mark);
        this.awaitingEcho.set(utterance.mark, utterance);
      }
    }
    if (this.queue.length === 0) {
      this.timer = undefined;
      return;
    }
    const wait = this.started + this.sentFrames * FRAME_MS - performance.now();
    this.timer = setTimeout(() => this.tick(), Math.max(0, wait));
  }
}
