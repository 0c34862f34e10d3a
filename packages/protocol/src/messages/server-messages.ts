import * as z from 'zod/mini';
import { AudioFormatSchema } from '../audio-format.js';
import { described } from '../described.js';
import { ERROR_CODES } from '../error-codes.js';
import { PROTOCOL_VERSION } from '../version.js';

const seconds = () => described(z.number().check(z.nonnegative()), 'Seconds of session audio.');

/** Limits the server enforces on a session, announced in `ready`. */
export const SessionLimitsSchema = z.object({
  maxFrameBytes: described(
    z.number().check(z.int(), z.positive()),
    'Largest binary or text frame accepted.',
  ),
  maxSessionSeconds: described(
    z.number().check(z.positive()),
    'Longest session, in seconds of wall time.',
  ),
  idleTimeoutSeconds: described(
    z.number().check(z.positive()),
    'Session closes after this long without audio.',
  ),
});
/** Limits the server enforces on a session. */
export type SessionLimits = z.infer<typeof SessionLimitsSchema>;

/** Schema of {@link ReadyMessage}. */
export const ReadyMessageSchema = described(
  z.object({
    type: z.literal('ready'),
    protocolVersion: z.literal(PROTOCOL_VERSION),
    sessionId: z.string(),
    resumeToken: described(z.string(), 'Present with `start.resume` to continue this session.'),
    audio: described(AudioFormatSchema, 'The input format the server accepted.'),
    provider: described(z.string(), 'Name of the provider transcribing this session.'),
    providerAudio: described(
      z.optional(AudioFormatSchema),
      'The format the provider receives, after any conversion.',
    ),
    conversion: described(
      z.optional(z.string()),
      'How the input becomes the provider format, e.g. `mulaw→pcm16, resample 8000→16000`, or `pass-through`.',
    ),
    resumed: z._default(z.boolean(), false),
    limits: SessionLimitsSchema,
  }),
  'The session is open and audio may flow.',
);
/** Server → client: the session is open. */
export type ReadyMessage = z.infer<typeof ReadyMessageSchema>;

/** One recognized word with its timing. */
export const WordSchema = z.object({
  word: z.string(),
  start: seconds(),
  end: seconds(),
  confidence: z.optional(z.number().check(z.minimum(0), z.maximum(1))),
  speaker: z.optional(z.number().check(z.int(), z.nonnegative())),
});
/** One recognized word with its timing. */
export type Word = z.infer<typeof WordSchema>;

/** Schema of {@link TranscriptMessage}. */
export const TranscriptMessageSchema = described(
  z.object({
    type: z.literal('transcript'),
    segmentId: described(z.string(), 'One id per utterance; interims and its final share it.'),
    isFinal: z.boolean(),
    text: z.string(),
    confidence: z.optional(z.number().check(z.minimum(0), z.maximum(1))),
    words: z._default(z.array(WordSchema), []),
    start: seconds(),
    end: seconds(),
    speaker: z.optional(z.number().check(z.int(), z.nonnegative())),
    language: z.optional(z.string()),
  }),
  'An interim or final transcript of one utterance.',
);
/** Server → client: an interim or final transcript. */
export type TranscriptMessage = z.infer<typeof TranscriptMessageSchema>;

/** Schema of {@link SpeechStartedMessage}. */
export const SpeechStartedMessageSchema = described(
  z.object({ type: z.literal('speech_started'), timestamp: seconds() }),
  'The provider heard speech begin.',
);
/** Server → client: speech began. */
export type SpeechStartedMessage = z.infer<typeof SpeechStartedMessageSchema>;

/** Schema of {@link UtteranceEndMessage}. */
export const UtteranceEndMessageSchema = described(
  z.object({
    type: z.literal('utterance_end'),
    timestamp: seconds(),
    segmentId: z.optional(z.string()),
  }),
  'The speaker paused: the current utterance is over.',
);
/** Server → client: the utterance is over. */
export type UtteranceEndMessage = z.infer<typeof UtteranceEndMessageSchema>;

/** Phases of a detected voice command. */
export const COMMAND_PHASES = ['tentative', 'confirmed', 'executed', 'failed'] as const;

/** Schema of {@link CommandMessage}. */
export const CommandMessageSchema = described(
  z.object({
    type: z.literal('command'),
    name: z.string(),
    phase: z.enum(COMMAND_PHASES),
    segmentId: z.optional(z.string()),
    slots: z._default(z.record(z.string(), z.unknown()), {}),
    result: z.optional(z.unknown()),
    error: z.optional(z.string()),
  }),
  'A voice command detected in the transcript, and what became of it.',
);
/** Server → client: a voice command. */
export type CommandMessage = z.infer<typeof CommandMessageSchema>;

/** Schema of {@link AckMessage}. */
export const AckMessageSchema = described(
  z.object({
    type: z.literal('ack'),
    audioBytes: described(
      z.number().check(z.int(), z.nonnegative()),
      'Bytes of audio the server holds.',
    ),
  }),
  'The server holds this much audio; the client may drop it from its replay buffer.',
);
/** Server → client: audio acknowledged. */
export type AckMessage = z.infer<typeof AckMessageSchema>;

/** Schema of {@link ErrorMessage}. */
export const ErrorMessageSchema = described(
  z.object({
    type: z.literal('error'),
    code: z.enum(ERROR_CODES),
    message: z.string(),
    fatal: described(z.boolean(), 'When true the server closes the session next.'),
  }),
  'Something went wrong; `fatal` says whether the session goes on.',
);
/** Server → client: an error. */
export type ErrorMessage = z.infer<typeof ErrorMessageSchema>;

/** Lifecycle states of a session. */
export const SESSION_STATUSES = ['created', 'active', 'ended', 'failed'] as const;
/** Schema of {@link SessionStatus}. */
export const SessionStatusSchema = z.enum(SESSION_STATUSES);
/** Where a session is in its life. */
export type SessionStatus = z.infer<typeof SessionStatusSchema>;

const count = () => z.number().check(z.int(), z.nonnegative());
const ms = (text: string) => described(z.number().check(z.nonnegative()), text);

/** Schema of {@link LatencyFigures}. */
export const LatencyFiguresSchema = z.object({
  count: count(),
  mean: ms('Mean, in milliseconds.'),
  p50: ms('Median, in milliseconds.'),
  p95: ms('95th percentile, in milliseconds.'),
  max: ms('Largest, in milliseconds.'),
});
/** Latency figures in milliseconds over a session. */
export type LatencyFigures = z.infer<typeof LatencyFiguresSchema>;

/** Schema of {@link SessionMetrics}. */
export const SessionMetricsSchema = described(
  z.object({
    chunksReceived: described(count(), 'Binary audio frames received from the client.'),
    bytesReceived: count(),
    audioSeconds: described(z.number().check(z.nonnegative()), 'Seconds of audio received.'),
    finalSegments: count(),
    interimSegments: count(),
    firstTranscriptMs: z.optional(
      ms('Milliseconds from the first audio frame to the first transcript.'),
    ),
    providerLatencyMs: z.optional(
      described(
        LatencyFiguresSchema,
        "From the end of an utterance's audio reaching the server to its final.",
      ),
    ),
    resumes: described(count(), 'Times the client reconnected and resumed the session.'),
    providerReconnects: described(count(), 'Times the provider stream was reconnected.'),
    replayedAudioSeconds: described(
      z.number().check(z.nonnegative()),
      'Seconds of audio sent to the provider again after its reconnects.',
    ),
    errors: described(count(), 'Errors reported to the client.'),
    durationSeconds: described(
      z.number().check(z.nonnegative()),
      'Wall-clock seconds from creation to now (live) or to the end.',
    ),
  }),
  "One session's figures: live in `session_info`, stored when it ends.",
);
/**
 * One session's figures: kept live (`session_info`), stored when it ends, exported as
 * Prometheus (and OpenTelemetry) metrics.
 */
export type SessionMetrics = z.infer<typeof SessionMetricsSchema>;

/** Schema of {@link SessionInfoMessage}. */
export const SessionInfoMessageSchema = described(
  z.object({
    type: z.literal('session_info'),
    sessionId: z.string(),
    status: SessionStatusSchema,
    provider: z.optional(z.string()),
    audio: z.optional(AudioFormatSchema),
    audioBytes: z.number().check(z.int(), z.nonnegative()),
    audioSeconds: seconds(),
    finalSegments: z.number().check(z.int(), z.nonnegative()),
    startedAt: described(z.string(), 'ISO 8601 time the session was created.'),
    metrics: z.optional(SessionMetricsSchema),
  }),
  "The session's current figures.",
);
/** Server → client: session figures. */
export type SessionInfoMessage = z.infer<typeof SessionInfoMessageSchema>;

/** Schema of {@link PongMessage}. */
export const PongMessageSchema = described(
  z.object({
    type: z.literal('pong'),
    id: z.optional(z.union([z.string(), z.number()])),
    timestamp: described(z.number(), 'Server time, milliseconds since the epoch.'),
  }),
  'Answer to `ping`.',
);
/** Server → client: answer to `ping`. */
export type PongMessage = z.infer<typeof PongMessageSchema>;

/** Schema of {@link BroadcastMessage}. */
export const BroadcastMessageSchema = described(
  z.object({ type: z.literal('broadcast'), payload: z.unknown() }),
  'An application message pushed to this session by the server admin.',
);
/** Server → client: an application broadcast. */
export type BroadcastMessage = z.infer<typeof BroadcastMessageSchema>;

/** Summary of a finished session, sent in `closed` and kept by the store. */
export const SessionSummarySchema = z.object({
  audioSeconds: seconds(),
  finalSegments: z.number().check(z.int(), z.nonnegative()),
  durationSeconds: described(
    z.number().check(z.nonnegative()),
    'Wall-clock seconds the session was open.',
  ),
});
/** Summary of a finished session. */
export type SessionSummary = z.infer<typeof SessionSummarySchema>;

/** Why a session closed. */
export const CLOSE_REASONS = ['stopped', 'ended', 'error', 'timeout', 'shutdown'] as const;

/** Schema of {@link ClosedMessage}. */
export const ClosedMessageSchema = described(
  z.object({
    type: z.literal('closed'),
    reason: z.enum(CLOSE_REASONS),
    summary: SessionSummarySchema,
  }),
  'The session is over; every final has been sent. The socket closes next.',
);
/** Server → client: the session is over. */
export type ClosedMessage = z.infer<typeof ClosedMessageSchema>;

/** Every server → client message, discriminated by `type`. */
export const ServerMessageSchema = z.discriminatedUnion('type', [
  ReadyMessageSchema,
  TranscriptMessageSchema,
  SpeechStartedMessageSchema,
  UtteranceEndMessageSchema,
  CommandMessageSchema,
  AckMessageSchema,
  ErrorMessageSchema,
  SessionInfoMessageSchema,
  PongMessageSchema,
  BroadcastMessageSchema,
  ClosedMessageSchema,
]);

/** Any server → client message. */
export type ServerMessage = z.infer<typeof ServerMessageSchema>;
/** A server → client message before defaults are applied. */
export type ServerMessageInput = z.input<typeof ServerMessageSchema>;

/** The `type`s a server may send. */
export const SERVER_MESSAGE_TYPES = [
  'ready',
  'transcript',
  'speech_started',
  'utterance_end',
  'command',
  'ack',
  'error',
  'session_info',
  'pong',
  'broadcast',
  'closed',
] as const;
