import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { EarshotError } from '@earshot/protocol';

/** Who is connecting, as an {@link Authenticate} hook established it. */
export interface Principal {
  /** Stable id: sessions are owned by it, and per-principal limits count by it. */
  readonly id: string;
  /** May use the REST admin and observe or end any session. */
  readonly admin?: boolean;
  /** What the credential said (a JWT's claims), for the app's own checks. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/**
 * Decides who an HTTP upgrade (or REST request) is from, before any WebSocket is accepted.
 * `undefined` refuses it with HTTP 401; throwing an `EarshotError` refuses it with that code's
 * status (`forbidden` 403, `rate_limited` 429, `capacity` 503).
 */
export type Authenticate = (
  req: IncomingMessage,
) => Principal | undefined | Promise<Principal | undefined>;

/**
 * The credential a request presents: `Authorization: Bearer <x>`, then `x-api-key`, then the
 * `?token=` or `?api_key=` query parameter (browsers cannot set headers on a WebSocket). Query
 * credentials are never logged: Earshot logs paths, not URLs.
 */
export function presentedCredential(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim() || undefined;
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim() !== '') return apiKey.trim();
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
  return query.get('token') ?? query.get('api_key') ?? undefined;
}

/**
 * Static API keys: each key names its principal (`{ 'sk-live-…': 'billing-service' }` or a
 * whole {@link Principal}). Keys are compared in constant time.
 *
 * @example
 * ```ts
 * createEarshotServer({ provider, authenticate: apiKeyAuth({ [process.env.APP_KEY!]: 'app' }) });
 * ```
 */
export function apiKeyAuth(keys: Readonly<Record<string, string | Principal>>): Authenticate {
  const entries = Object.entries(keys).map(([key, who]) => {
    if (key.length < 16) {
      throw new EarshotError('invalid_request', 'an API key must be at least 16 characters');
    }
    return { digest: digest(key), principal: typeof who === 'string' ? { id: who } : who };
  });
  return (req) => {
    const presented = presentedCredential(req);
    if (presented === undefined) return undefined;
    const given = digest(presented);
    // Every key is compared, so the time taken says nothing about which one matched.
    let found: Principal | undefined;
    for (const entry of entries) {
      if (timingSafeEqual(given, entry.digest)) found = entry.principal;
    }
    return found;
  };
}

/** Options of {@link jwtAuth}. */
export interface JwtAuthOptions {
  /** An HMAC secret (HS256/384/512) … */
  readonly secret?: string | Uint8Array;
  /** … or the URL of a JSON Web Key Set (RS256, ES256…), fetched and cached by `jose`. */
  readonly jwksUrl?: string;
  /** Required `iss`. */
  readonly issuer?: string;
  /** Required `aud`. */
  readonly audience?: string;
  /** The claim that names the principal. Default `sub`. */
  readonly principalClaim?: string;
  /** A claim that makes the principal an admin when it is `true` (or contains `"admin"`). */
  readonly adminClaim?: string;
  /** Allowed clock skew in seconds. Default 30. */
  readonly clockToleranceSeconds?: number;
}

/**
 * JSON Web Tokens through `jose` (an optional peer dependency: `npm install jose`), signed with
 * a shared secret or a JWKS. The token is the presented credential (Bearer header or `?token=`).
 * Expired, not yet valid, wrongly signed or wrongly addressed tokens are refused (401).
 */
export function jwtAuth(options: JwtAuthOptions): Authenticate {
  if (!options.secret === !options.jwksUrl) {
    throw new EarshotError('invalid_request', 'jwtAuth needs exactly one of secret and jwksUrl');
  }
  const verifier = loadJose().then((jose) => {
    const key = options.jwksUrl
      ? jose.createRemoteJWKSet(new URL(options.jwksUrl))
      : typeof options.secret === 'string'
        ? new TextEncoder().encode(options.secret)
        : (options.secret as Uint8Array);
    return (token: string) =>
      jose.jwtVerify(token, key as Parameters<typeof jose.jwtVerify>[1], {
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: options.clockToleranceSeconds ?? 30,
      });
  });
  // Not an unhandled rejection when no token ever comes; each call awaits it again.
  verifier.catch(() => {});
  return async (req) => {
    const token = presentedCredential(req);
    if (token === undefined) return undefined;
    const verify = await verifier;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await verify(token));
    } catch {
      return undefined;
    }
    const id = payload[options.principalClaim ?? 'sub'];
    if (typeof id !== 'string' || id === '') return undefined;
    const admin = options.adminClaim ? payload[options.adminClaim] : undefined;
    return {
      id,
      admin: admin === true || (Array.isArray(admin) && admin.includes('admin')),
      claims: payload,
    };
  };
}

/** The first of `authenticators` that knows the request (e.g. API keys for services, JWTs for users). */
export function anyOf(...authenticators: Authenticate[]): Authenticate {
  return async (req) => {
    for (const authenticate of authenticators) {
      const principal = await authenticate(req);
      if (principal) return principal;
    }
    return undefined;
  };
}

/**
 * Whether an upgrade's `Origin` is allowed: browsers send it on every WebSocket, so a page of
 * another site cannot open a socket with the user's cookies (cross-site WebSocket hijacking).
 * Requests without `Origin` (servers, phones) are not browsers and pass.
 */
export function originAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return allowed.includes('*') || allowed.includes(origin.replace(/\/$/, ''));
}

type Jose = typeof import('jose');

async function loadJose(): Promise<Jose> {
  try {
    return await import('jose');
  } catch (error) {
    throw new EarshotError('internal', 'jwtAuth needs "jose": npm install jose', {
      cause: error,
    });
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
