import { EarshotError, type Logger } from '@earshot/protocol';
import type {
  SessionRecord,
  StoredEvent,
  StoredEventType,
  StoredSegment,
} from '../stores/store.js';
import type { StoreWrite, StoreWriter, WriteOutcome } from '../stores/store-writer.js';

/** Tells the session's client what could not be kept. */
export type StoreNotice = (error: EarshotError) => void;

/**
 * What one session writes to the store, through the server's {@link StoreWriter}: its record
 * at start and end, each final (awaited: a final is sent after it is stored, or after it is
 * held in memory while the store is down), and its events (in order, not awaited). With
 * `keepTranscript` (the app has an end hook) it keeps the session's finals too, for that hook;
 * otherwise none: a session's memory must not grow with its length.
 */
export class SessionRecorder {
  private toldUnavailable = false;
  private readonly finals: StoredSegment[] = [];

  constructor(
    private readonly sessionId: string,
    private readonly writer: StoreWriter,
    private readonly notify: StoreNotice,
    private readonly logger: Logger,
    private readonly keepTranscript = true,
  ) {}

  /** Every final of the session so far, in order (none kept without `keepTranscript`). */
  get transcript(): readonly StoredSegment[] {
    return this.finals;
  }

  /**
   * Records the session as started: creates it, or updates the record `POST /v1/sessions`
   * made. Rejects only when the store refuses it (not when it is unreachable).
   */
  async begin(record: SessionRecord, preCreated: boolean): Promise<void> {
    const { id, ...patch } = record;
    await this.write(
      preCreated ? 'updateSession' : 'createSession',
      preCreated ? (s) => s.updateSession(id, patch) : (s) => s.createSession(record),
    );
  }

  /** Takes the finals another node recorded (a handed-over session) as this session's own. */
  carryOver(transcript: readonly StoredSegment[]): void {
    if (this.keepTranscript) this.finals.unshift(...transcript);
  }

  /** Stores a final. Resolves when it may be sent. */
  async final(segment: StoredSegment): Promise<void> {
    if (this.keepTranscript) this.finals.push(segment);
    try {
      await this.write('appendSegment', (s) => s.appendSegment(this.sessionId, segment), {
        onLost: (error) => this.notify(error),
      });
    } catch (error) {
      this.logger.error({ sessionId: this.sessionId, err: error }, 'could not store a final');
      this.notify(
        new EarshotError('store_error', `final ${segment.segmentId} could not be stored`, {
          cause: error,
        }),
      );
    }
  }

  /** Stores an event, after every write before it; the caller does not wait. */
  event(type: StoredEventType, data: StoredEvent['data']): void {
    const event: StoredEvent = { type, at: new Date().toISOString(), data };
    this.write('appendEvent', (s) => s.appendEvent(this.sessionId, event)).catch((error: unknown) =>
      this.logger.warn({ sessionId: this.sessionId, err: error }, 'could not store an event'),
    );
  }

  /** Stores the session's end (status, reason, summary, metrics). */
  async end(patch: Partial<Omit<SessionRecord, 'id'>>): Promise<void> {
    try {
      await this.write('updateSession', (s) => s.updateSession(this.sessionId, patch));
    } catch (error) {
      this.logger.error(
        { sessionId: this.sessionId, err: error },
        'could not store the session end',
      );
    }
  }

  private async write(
    what: string,
    run: StoreWrite['run'],
    extra: Pick<StoreWrite, 'onLost'> = {},
  ): Promise<WriteOutcome> {
    const outcome = await this.writer.write({ sessionId: this.sessionId, what, run, ...extra });
    if (outcome === 'queued' && !this.toldUnavailable) {
      this.toldUnavailable = true;
      this.notify(
        new EarshotError(
          'store_unavailable',
          'the store cannot be reached; finals are held in memory and stored when it is back',
        ),
      );
    }
    if (outcome === 'dropped') {
      this.notify(
        new EarshotError('store_error', `${what} was not stored: the write buffer is full`),
      );
    }
    return outcome;
  }
}
