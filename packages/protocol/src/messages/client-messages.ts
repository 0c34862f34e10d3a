import * as z from 'zod/mini';
import { AudioFormatSchema } from '../audio-format.js';
import { described } from '../described.js';

/** Free-form metadata attached to a session (user, organization, patient, call…). */
export const MetadataSchema = described(
  z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  'Flat key/value metadata kept with the session.',
);

/** Session metadata: flat string keys to primitive values. */
export type Metadata = z.infer<typeof MetadataSchema>;

/** Schema of the `resume` part of {@link StartMessage}. */
export const ResumeSchema = described(
  z.object({
    sessionId: z.string().check(z.minLength(1)),
    resumeToken: z.string().check(z.minLength(1)),
    audioBytes: described(
      z.number().check(z.int(), z.nonnegative()),
      'Bytes of audio the client has sent in this session so far.',
    ),
    finals: described(
      z.optional(z.number().check(z.int(), z.nonnegative())),
      'Finals the client has received in this session; the server sends again the ones after them (0 when absent).',
    ),
  }),
  'Continue an earlier session after a dropped connection.',
);

/** Schema of {@link StartMessage}. */
export const StartMessageSchema = described(
  z.object({
    type: z.literal('start'),
    audio: AudioFormatSchema,
    language: described(
      z._default(z.string().check(z.minLength(2), z.maxLength(35)), 'en-US'),
      'BCP-47 language tag.',
    ),
    interimResults: described(
      z._default(z.boolean(), true),
      'Send interim (non-final) transcripts.',
    ),
    keywords: described(
      z._default(
        z.array(z.string().check(z.minLength(1), z.maxLength(100))).check(z.maxLength(500)),
        [],
      ),
      'Words to boost.',
    ),
    diarize: described(z._default(z.boolean(), false), 'Label speakers where the provider can.'),
    provider: described(
      z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
      'Provider name, if the server offers a choice.',
    ),
    providerOptions: described(
      z.optional(z.record(z.string(), z.unknown())),
      'Options passed to the provider.',
    ),
    metadata: z.optional(MetadataSchema),
    resume: z.optional(ResumeSchema),
  }),
  'Begins streaming: declares the audio format and recognition options.',
);

/** Client → server: begin a session's audio stream. */
export type StartMessage = z.infer<typeof StartMessageSchema>;
/** `start` as a client may write it (defaults not yet applied). */
export type StartMessageInput = z.input<typeof StartMessageSchema>;

/** Schema of {@link FinalizeMessage}. */
export const FinalizeMessageSchema = described(
  z.object({ type: z.literal('finalize') }),
  'Flush the current utterance: the provider emits its final now.',
);
/** Client → server: flush the current utterance. */
export type FinalizeMessage = z.infer<typeof FinalizeMessageSchema>;

/** Schema of {@link StopMessage}. */
export const StopMessageSchema = described(
  z.object({ type: z.literal('stop') }),
  'End of audio: the server sends the remaining finals, then `closed`.',
);
/** Client → server: end of audio. */
export type StopMessage = z.infer<typeof StopMessageSchema>;

/** Schema of {@link PingMessage}. */
export const PingMessageSchema = described(
  z.object({
    type: z.literal('ping'),
    id: described(
      z.optional(z.union([z.string().check(z.maxLength(100)), z.number()])),
      'Echoed in the `pong`.',
    ),
  }),
  'Application-level liveness check; answered with `pong`.',
);
/** Client → server: liveness check. */
export type PingMessage = z.infer<typeof PingMessageSchema>;

/** Schema of {@link SessionInfoRequest}. */
export const SessionInfoRequestSchema = described(
  z.object({ type: z.literal('session_info') }),
  "Ask for the session's current figures; answered with `session_info`.",
);
/** Client → server: ask for session figures. */
export type SessionInfoRequest = z.infer<typeof SessionInfoRequestSchema>;

/** Every client → server JSON message, discriminated by `type`. */
export const ClientMessageSchema = z.discriminatedUnion('type', [
  StartMessageSchema,
  FinalizeMessageSchema,
  StopMessageSchema,
  PingMessageSchema,
  SessionInfoRequestSchema,
]);

/** Any client → server JSON message. */
export type ClientMessage = z.infer<typeof ClientMessageSchema>;
/** A client → server message as a client may write it (defaults not yet applied). */
export type ClientMessageInput = z.input<typeof ClientMessageSchema>;

/** The `type`s a client may send. */
export const CLIENT_MESSAGE_TYPES = ['start', 'finalize', 'stop', 'ping', 'session_info'] as const;
