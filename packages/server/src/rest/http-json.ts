import type { IncomingMessage, ServerResponse } from 'node:http';
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
};

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

/** Writes an error as `{ error: { code, message } }` with the HTTP status its code implies. */
export function sendError(res: ServerResponse, error: unknown): void {
  const e = EarshotError.from(error);
  sendJson(res, STATUS_OF[e.code] ?? 500, { error: { code: e.code, message: e.message } });
}

/** Reads a JSON request body of at most `limit` bytes; an empty body reads as `{}`. */
export async function readJsonBody(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
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
