import type {
  Metadata,
  ServerMessageInput,
  StartMessage,
  TranscriptMessage,
} from '@earshot/protocol';
import type { StoredSegment } from '../stores/store.js';
import type { MetricsCarryOver } from './session-metrics.js';

/**
 * What one node hands another when a client resumes its session there: enough to open the
 * provider again where the first node stopped and to go on with the same clock, numbering,
 * transcript and figures. Plain JSON, so it travels over the cluster bus.
 */
export interface HandoverState {
  readonly sessionId: string;
  /** ISO 8601 time the session was created on its first node. */
  readonly createdAt: string;
  /** The session's `start` (format, language, provider and its options). */
  readonly start: StartMessage;
  readonly metadata: Metadata;
  /** Audio bytes the session had received: where the client's audio goes on from. */
  readonly audioBytes: number;
  /** Finals so far: the next final's `seq`. */
  readonly finalSegments: number;
  /** Handovers before this one. */
  readonly epoch: number;
  /** The last finals, to send again to the resuming client. */
  readonly recentFinals: readonly { seq: number; message: TranscriptMessage }[];
  /** Commands and broadcasts the client has not had. */
  readonly missed: readonly ServerMessageInput[];
  /** Every final so far, for the end hook. */
  readonly transcript: readonly StoredSegment[];
  readonly metrics: MetricsCarryOver;
}
