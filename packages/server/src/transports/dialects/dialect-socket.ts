import {
  type AudioFormat,
  CloseCode,
  EarshotError,
  type Logger,
  type Metadata,
  type ServerMessageInput,
  type StartMessageInput,
  StartMessageSchema,
} from '@earshot/protocol';
import type { WebSocket } from 'ws';
import { droppable, type OutboundLimits, sendBounded } from '../../security/outbound-gate.js';
import type { Session } from '../../session/session.js';
import type { SessionPeer } from '../../session/session-peer.js';
import { frameBytes } from '../frame-bytes.js';

/** Recognition options a dialect's sessions start with (its frontend does not send them). */
export type DialectStreamOptions = Omit<
  StartMessageInput,
  'type' | 'audio' | 'metadata' | 'resume'
>;

/**
 * A dialect's translation of one session message onto its wire: a JSON value to send, several,
 * or `undefined` for a message the dialect has no counterpart for.
 */
export type DialectTranslation = (message: ServerMessageInput) => unknown;

/** What a dialect does with its connection's frames. */
export interface DialectFrameHandlers {
  /** A text frame that parsed as JSON. */
  json(value: unknown): void;
  /** A binary frame. */
  binary(bytes: Buffer): void;
  /** A text frame that is not JSON (`invalid_json`). */
  invalid(error: EarshotError): void;
  /** The connection closed or failed. Called once. */
  gone(): void;
}

/**
 * What an id a frontend puts in a path or query (a session, conversation or client id) may be:
 * what the seeds' apps generate, nothing that needs escaping, at most 128 characters.
 */
export const DIALECT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * A path segment or query value percent-decoded, or `undefined` when it is not valid
 * percent-encoding (`%E0%A4%A`): a frontend's malformed URL is refused, never thrown.
 */
export function decodeUriPart(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

// A text frame bigger than this is not a control message; it is refused without parsing.
const MAX_TEXT_FRAME_BYTES = 16 * 1024 * 1024;

/**
 * One frontend connection of a dialect: JSON out, frames in, and the session's view of it.
 * Every dialect is built on it, so sending, closing and frame decoding are written once.
 */
export class DialectSocket {
  /** The session's view of this connection: messages go through the dialect's translation. */
  readonly peer: SessionPeer;

  constructor(
    readonly socket: WebSocket,
    translate: DialectTranslation,
    private readonly outbound?: OutboundLimits,
  ) {
    this.peer = {
      // A dialect's frontend cannot resume: when it leaves, the session ends keeping its words.
      resumable: false,
      send: (message) => {
        // Always translated (a dialect may keep state from it); dropped at the wire, if at all.
        const out = translate(message);
        if (out === undefined) return;
        for (const value of Array.isArray(out) ? out : [out]) {
          sendBounded(this.socket, JSON.stringify(value), droppable(message), this.outbound);
        }
      },
      close: (code, reason) => this.close(code, reason),
    };
  }

  /** Whether the connection is still open. */
  get open(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  /** Sends one JSON text frame, if the connection is open (and reads fast enough). */
  send(value: unknown): void {
    sendBounded(this.socket, JSON.stringify(value), false, this.outbound);
  }

  /** Closes the connection (a no-op once closed). */
  close(code: number = CloseCode.Normal, reason = ''): void {
    const { readyState } = this.socket;
    if (readyState === this.socket.OPEN || readyState === this.socket.CONNECTING) {
      this.socket.close(code, reason.slice(0, 120));
    }
  }

  /** Routes the connection's frames to `handlers`. */
  listen(handlers: DialectFrameHandlers): void {
    let gone = false;
    const leave = () => {
      if (gone) return;
      gone = true;
      handlers.gone();
    };
    this.socket.on('message', (data, isBinary) => {
      const bytes = frameBytes(data);
      if (isBinary) {
        handlers.binary(bytes);
        return;
      }
      if (bytes.byteLength > MAX_TEXT_FRAME_BYTES) {
        handlers.invalid(new EarshotError('frame_too_large', 'text frame too large'));
        return;
      }
      let value: unknown;
      try {
        value = JSON.parse(bytes.toString('utf8'));
      } catch {
        handlers.invalid(new EarshotError('invalid_json', 'a text frame was not valid JSON'));
        return;
      }
      // A dialect's handler that throws would take the process down (nothing catches a throw
      // from a `ws` listener): the frontend gets the dialect's error instead.
      try {
        handlers.json(value);
      } catch {
        handlers.invalid(new EarshotError('invalid_message', 'the message could not be handled'));
      }
    });
    this.socket.on('close', leave);
    this.socket.on('error', leave);
  }
}

/**
 * Starts `session` for audio of `audio`, with the recognition options the app gave the
 * transport (a dialect's or Twilio's `stream`), for frontends that send no `start` of their
 * own. Resolves whether the options were valid (when not, the session ends with an internal
 * error: the app configured the transport wrongly, not the frontend).
 */
export function startTransportSession(
  session: Session,
  audio: AudioFormat,
  stream: DialectStreamOptions | undefined,
  logger: Logger,
  metadata?: Metadata,
): boolean {
  const message = StartMessageSchema.safeParse({
    type: 'start',
    ...stream,
    audio,
    ...(metadata ? { metadata } : {}),
  });
  if (!message.success) {
    logger.error({ err: message.error }, "the transport's `stream` options are invalid");
    void session.end('error', CloseCode.InternalError);
    return false;
  }
  void session.start(message.data);
  return true;
}

/**
 * A JSON value named for an error message, safely: a short string is quoted, anything else is
 * named by its kind. A frontend's value may be nested thousands deep or carry a `toString`
 * that is not a function; neither `String()` nor `JSON.stringify` can be trusted with it.
 */
export function describeJson(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return `${value}`;
  return Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;
}

/** A JSON value as a plain object, or `undefined` when it is not one. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
