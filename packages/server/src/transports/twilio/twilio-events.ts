import { z } from 'zod';

// Twilio Media Streams messages, as Twilio sends them (docs: media-streams/websocket-messages).
// Sequence numbers, chunks and timestamps are decimal strings on the wire.
const decimal = z.string().regex(/^\d+$/);

/** `connected`: always first. */
export const TwilioConnectedSchema = z.object({
  event: z.literal('connected'),
  protocol: z.string().optional(),
  version: z.string().optional(),
});

/** `start`: once, with the call's identity and the audio format. */
export const TwilioStartSchema = z.object({
  event: z.literal('start'),
  sequenceNumber: decimal.optional(),
  streamSid: z.string().min(1),
  start: z.object({
    streamSid: z.string().min(1),
    accountSid: z.string().optional(),
    callSid: z.string().min(1).max(256),
    tracks: z.array(z.string()).default(['inbound']),
    customParameters: z.record(z.string(), z.string()).default({}),
    mediaFormat: z
      .object({
        encoding: z.string(),
        sampleRate: z.number().int().positive(),
        channels: z.number().int().positive(),
      })
      .default({ encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 }),
  }),
});

/** `media`: 20 ms of base64 μ-law 8 kHz audio. */
export const TwilioMediaSchema = z.object({
  event: z.literal('media'),
  sequenceNumber: decimal,
  streamSid: z.string().optional(),
  media: z.object({
    track: z.string().default('inbound'),
    chunk: decimal.optional(),
    timestamp: decimal.optional(),
    payload: z.string(),
  }),
});

/** `mark`: Twilio echoes a mark the server sent once the audio before it has played. */
export const TwilioMarkSchema = z.object({
  event: z.literal('mark'),
  sequenceNumber: decimal.optional(),
  streamSid: z.string().optional(),
  mark: z.object({ name: z.string() }),
});

/** `dtmf`: a key the caller pressed (bidirectional streams). */
export const TwilioDtmfSchema = z.object({
  event: z.literal('dtmf'),
  sequenceNumber: decimal.optional(),
  streamSid: z.string().optional(),
  dtmf: z.object({ track: z.string().optional(), digit: z.string() }),
});

/** `stop`: the call (or the stream) ended; Twilio closes the socket next. */
export const TwilioStopSchema = z.object({
  event: z.literal('stop'),
  sequenceNumber: decimal.optional(),
  streamSid: z.string().optional(),
  stop: z.object({ accountSid: z.string().optional(), callSid: z.string().optional() }).optional(),
});

/** Every message Twilio sends on a media stream. */
export const TwilioEventSchema = z.discriminatedUnion('event', [
  TwilioConnectedSchema,
  TwilioStartSchema,
  TwilioMediaSchema,
  TwilioMarkSchema,
  TwilioDtmfSchema,
  TwilioStopSchema,
]);
/** A message from Twilio. */
export type TwilioEvent = z.infer<typeof TwilioEventSchema>;
/** Twilio's `start` message. */
export type TwilioStart = z.infer<typeof TwilioStartSchema>;

const KNOWN_EVENTS = new Set(['connected', 'start', 'media', 'mark', 'dtmf', 'stop']);

/** Why a text frame from Twilio was not used. */
export type TwilioFrameProblem = 'invalid_json' | 'unknown_event' | 'malformed';

/** Reads one text frame from Twilio. */
export function parseTwilioFrame(
  text: string,
): { ok: true; event: TwilioEvent } | { ok: false; problem: TwilioFrameProblem; detail: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'invalid_json', detail: 'not JSON' };
  }
  const name = (raw as { event?: unknown } | null)?.event;
  if (typeof name !== 'string' || !KNOWN_EVENTS.has(name)) {
    return { ok: false, problem: 'unknown_event', detail: `event ${shown(name)}` };
  }
  const parsed = TwilioEventSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map((key) => clip(String(key))).join('.');
    return {
      ok: false,
      problem: 'malformed',
      detail: `${name}: ${path || '(root)'}: ${issue?.message}`,
    };
  }
  return { ok: true, event: parsed.data };
}

// A value from the frame, for a log line: bounded, and never `JSON.stringify` of something
// nested thousands of levels deep, which throws.
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(clip(value));
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'array' : 'object';
  return String(value);
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Strict base64 (Twilio's payloads): what `Buffer.from` would silently skip is refused. */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

/** Messages the server sends to Twilio on a bidirectional stream. */
export const twilioOut = {
  media: (streamSid: string, payload: Uint8Array) =>
    JSON.stringify({
      event: 'media',
      streamSid,
      media: { payload: Buffer.from(payload).toString('base64') },
    }),
  mark: (streamSid: string, name: string) =>
    JSON.stringify({ event: 'mark', streamSid, mark: { name } }),
  clear: (streamSid: string) => JSON.stringify({ event: 'clear', streamSid }),
};
