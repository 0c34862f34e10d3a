import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { EarshotError, type ErrorCode } from '@earshot/protocol';

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  invalid_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  session_not_found: 404,
  session_ended: 409,
  rate_limited: 429,
  capacity: 503,
  store_error: 503,
  store_unavailable: 503,
  cluster_unavailable: 503,
};

/** The HTTP status a REST error with `code` is answered with (500 for codes not listed). */
export function httpStatusOf(code: ErrorCode): number {
  return STATUS_OF[code] ?? 500;
}

/** Writes a JSON body with a status. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/**
 * The `{ error: { code, message } }` body of `error`. What is not an `EarshotError` is a bug,
 * not something to tell a caller about: it answers `internal` without its message.
 */
export function errorBody(error: unknown): { error: { code: ErrorCode; message: string } } {
  if (!EarshotError.isInstance(error)) {
    return { error: { code: 'internal', message: 'internal error' } };
  }
  return { error: { code: error.code, message: error.message } };
}

/** Writes an error as `{ error: { code, message } }` with the HTTP status its code implies. */
export function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    // Too late for a JSON error: cut the answer short so the caller sees it failed.
    res.destroy();
    return;
  }
  const body = errorBody(error);
  sendJson(res, httpStatusOf(body.error.code), body);
}

/**
 * Refuses an HTTP upgrade before any WebSocket is accepted: writes a JSON error answer on the
 * raw socket and closes it.
 */
export function refuseUpgrade(socket: Duplex, error: unknown, headers: string[] = []): void {
  if (socket.destroyed) return;
  const answer = errorBody(error);
  const status = httpStatusOf(answer.error.code);
  const body = JSON.stringify(answer);
  socket.end(
    [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
      'Connection: close',
      'Content-Type: application/json; charset=utf-8',
      'Cache-Control: no-store',
      `Content-Length: ${Buffer.byteLength(body)}`,
      ...headers,
      '',
      body,
    ].join('\r\n'),
  );
}

/** Reads a JSON request body of at most `limit` bytes; an empty body reads as `{}`. */
export async function readJsonBody(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    throw new EarshotError('invalid_request', `request body over ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > limit) throw new EarshotError('invalid_request', `request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new EarshotError('invalid_request', 'request body is not valid JSON');
  }
}
