import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Who may use the REST admin (every route but `/healthz`, the observer WebSocket and
 * `/metrics` included): holders of an API key, sent as `Authorization: Bearer <key>` or
 * `x-api-key: <key>` and compared in constant time, or whoever a function of the request
 * accepts (a session cookie, an mTLS certificate, your own token check).
 */
export type AdminAuth =
  | { readonly apiKey: string }
  | ((req: IncomingMessage) => boolean | Promise<boolean>);

/**
 * Whether `req` may use the admin routes. Without `auth` every request may: the routes are
 * open, which is for development (or for a port only your own services reach).
 */
export async function isAdminRequest(
  auth: AdminAuth | undefined,
  req: IncomingMessage,
): Promise<boolean> {
  if (auth === undefined) return true;
  if (typeof auth === 'function') return (await auth(req)) === true;
  // An empty key would let an empty `Bearer ` through: it matches nothing.
  if (auth.apiKey === '') return false;
  const presented = presentedKey(req);
  return presented !== undefined && sameSecret(presented, auth.apiKey);
}

function presentedKey(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  const apiKey = req.headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey.trim() : undefined;
}

// Hashing first gives both sides one length, so the comparison's time says nothing about
// the key, not even its length.
function sameSecret(presented: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
