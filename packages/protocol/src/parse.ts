import type * as z from 'zod/mini';
import { EarshotError } from './earshot-error.js';
import {
  CLIENT_MESSAGE_TYPES,
  type ClientMessage,
  ClientMessageSchema,
} from './messages/client-messages.js';
import {
  SERVER_MESSAGE_TYPES,
  type ServerMessage,
  ServerMessageSchema,
} from './messages/server-messages.js';

/** The outcome of parsing one text frame: the message, or a typed error explaining why not. */
export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: EarshotError };

function parseWith<T>(
  schema: z.ZodMiniType<T>,
  knownTypes: readonly string[],
  text: string,
): ParseResult<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: new EarshotError('invalid_json', 'text frame is not valid JSON') };
  }
  const type =
    typeof json === 'object' && json !== null ? (json as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !knownTypes.includes(type)) {
    const shown = typeof type === 'string' ? `"${type.slice(0, 40)}"` : 'missing';
    return {
      ok: false,
      error: new EarshotError(
        'unknown_message_type',
        `message type ${shown} is not one of: ${knownTypes.join(', ')}`,
      ),
    };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${shownPath(issue.path)}` : '';
    return {
      ok: false,
      error: new EarshotError(
        'invalid_message',
        `invalid "${type}" message${where}: ${issue?.message}`,
      ),
    };
  }
  return { ok: true, message: parsed.data };
}

// A path names the failing field; its keys come from the frame and may be of any length.
function shownPath(path: readonly PropertyKey[]): string {
  return path
    .map((key) => {
      const name = String(key);
      return name.length > 40 ? `${name.slice(0, 40)}…` : name;
    })
    .join('.');
}

/**
 * Parses a client → server text frame. Never throws: malformed JSON, an unknown `type` and
 * a failed validation each come back as an {@link EarshotError} with its own stable code.
 */
export function parseClientMessage(text: string): ParseResult<ClientMessage> {
  return parseWith(ClientMessageSchema, CLIENT_MESSAGE_TYPES, text);
}

/** Parses a server → client text frame. Never throws; see {@link parseClientMessage}. */
export function parseServerMessage(text: string): ParseResult<ServerMessage> {
  return parseWith(ServerMessageSchema, SERVER_MESSAGE_TYPES, text);
}
