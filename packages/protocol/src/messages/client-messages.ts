import { z } from 'zod';
import { AudioFormatSchema } from '../audio-format.js';

/** Free-form metadata attached to a session (user, organization, patient, call…). */
export const MetadataSchema = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
  .describe('Flat key/value metadata kept with the session.');

/** Session metadata: flat string keys to primitive values. */
export type Metadata = z.infer<typeof MetadataSchema>;

/** Schema of the `resume` part of {@link StartMessage}. */
export const ResumeSchema = z
  .object({
    sessionId: z.string().min(1),
    resumeToken: z.string().min(1),
    audioBytes: z
      .number()
      .int()
      .nonnegative()
      .describe('Bytes of audio the client has sent in this session so far.'),
    finals: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe(
        'Finals the client has received in this session; the server sends again the ones after them (0 when absent).',
      ),
  })
  .describe('Continue an earlier session after a dropped connection.');

/** Schema of {@link StartMessage}. */
export const StartMessageSchema = z
  .object({
    type: z.literal('start'),
    audio: AudioFormatSchema,
    language: z.string().min(2).max(35).default('en-US').describe('BCP-47 language tag.'),
    interimResults: z.boolean().default(true).describe('Send interim (non-final) transcripts.'),
    keywords: z.array(z.string().min(1).max(100)).max(500).default([]).describe('Words to boost.'),
    diarize: z.boolean().default(false).describe('Label speakers where the provider can.'),
    provider: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe('Provider name, if the server offers a choice.'),
    providerOptions: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Options passed to the provider.'),
    metadata: MetadataSchema.optional(),
    resume: ResumeSchema.optional(),
  })
  .describe('Begins streaming: declares the audio format and recognition options.');

/** Client → server: begin a session's audio stream. */
export type StartMessage = z.infer<typeof StartMessageSchema>;
/** `start` as a client may write it (defaults not yet applied). */
export type StartMessageInput = z.input<typeof StartMessageSchema>;

/** Schema of {@link FinalizeMessage}. */
export const FinalizeMessageSchema = z
  .object({ type: z.literal('finalize') })
  .describe('Flush the current utterance: the provider emits its final now.');
/** Client → server: flush the current utterance. */
export type FinalizeMessage = z.infer<typeof FinalizeMessageSchema>;

/** Schema of {@link StopMessage}. */
export const StopMessageSchema = z
  .object({ type: z.literal('stop') })
  .describe('End of audio: the server sends the remaining finals, then `closed`.');
/** Client → server: end of audio. */
export type StopMessage = z.infer<typeof StopMessageSchema>;

/** Schema of {@link PingMessage}. */
export const PingMessageSchema = z
  .object({
    type: z.literal('ping'),
    id: z
      .union([z.string().max(100), z.number()])
      .optional()
      .describe('Echoed in the `pong`.'),
  })
  .describe('Application-level liveness check; answered with `pong`.');
/** Client → server: liveness check. */
export type PingMessage = z.infer<typeof PingMessageSchema>;

/** Schema of {@link SessionInfoRequest}. */
export const SessionInfoRequestSchema = z
  .object({ type: z.literal('session_info') })
  .describe("Ask for the session's current figures; answered with `session_info`.");
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
