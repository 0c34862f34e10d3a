import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type EmulatorFaults, takeRefusal } from './faults.js';

// What the emulators of OpenAI's HTTP API share: its error body, its Bearer-key check and
// how it writes an answer. Each endpoint's own checks stay in its emulator.

/** OpenAI's error body: `{ error: { message, type, param, code } }`. */
export interface OpenAIErrorBody {
  readonly message: string;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
}

/** A request that ended in an HTTP error answer with OpenAI's error body. */
export class OpenAIHttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: OpenAIErrorBody,
  ) {
    super(body.message);
  }
}

/** An `invalid_request_error` answer (400s, 401, 404), as the API words them. */
export const invalidRequest = (
  status: number,
  message: string,
  param: string | null = null,
  code: string | null = null,
): OpenAIHttpFailure =>
  new OpenAIHttpFailure(status, { message, type: 'invalid_request_error', param, code });

/**
 * The error answer of an injected status: the `type` (and for 429 the `code`) OpenAI sends
 * with it, so the SDK raises the same error class as against the real API.
 */
export function statusFailure(status: number, message: string): OpenAIHttpFailure {
  const type =
    status >= 500 ? 'server_error' : status === 429 ? 'requests' : 'invalid_request_error';
  const code = status === 429 ? 'rate_limit_exceeded' : null;
  return new OpenAIHttpFailure(status, { message, type, param: null, code });
}

/** The key after `Bearer ` in the `Authorization` header (empty when there is none). */
export const bearerKey = (req: IncomingMessage): string =>
  (req.headers.authorization ?? '').slice('Bearer '.length);

/**
 * Checks `Authorization: Bearer <key>` as OpenAI does, and the connection-level faults:
 * no key or another key (or `faults.rejectAuth`) → 401, `faults.refuseNext` → 503.
 * Throws the {@link OpenAIHttpFailure} to answer.
 */
export function authorizeOpenAI(
  req: IncomingMessage,
  acceptedKeys: readonly (string | undefined)[],
  faults: EmulatorFaults,
): void {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Bearer ') || header.length === 'Bearer '.length) {
    throw invalidRequest(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    );
  }
  const key = bearerKey(req);
  if (faults.rejectAuth || !acceptedKeys.includes(key)) {
    const shown = key.length > 8 ? `${key.slice(0, 3)}*****${key.slice(-4)}` : key;
    throw invalidRequest(
      401,
      `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      null,
      'invalid_api_key',
    );
  }
  if (takeRefusal(faults)) {
    throw new OpenAIHttpFailure(503, {
      message: 'The server is overloaded or not ready yet.',
      type: 'server_error',
      param: null,
      code: null,
    });
  }
}

/**
 * Writes an answer with the headers OpenAI sends on every one; objects are sent as JSON,
 * strings and bytes as they are. Does nothing once the client has gone (an aborted request).
 */
export function answerOpenAI(
  res: ServerResponse,
  status: number,
  body: unknown,
  options: { readonly contentType?: string; readonly requestId: string },
): void {
  if (res.headersSent || res.destroyed) return;
  const payload =
    typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
  const headers: OutgoingHttpHeaders = {
    'content-type': options.contentType ?? 'application/json',
    'content-length': Buffer.byteLength(payload),
    'openai-processing-ms': '1',
    'x-request-id': options.requestId,
  };
  res.writeHead(status, headers).end(payload);
}
