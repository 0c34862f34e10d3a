import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a token grants: `connect` to one session, or `resume` it after a drop. */
export type TokenPurpose = 'connect' | 'resume';

/** The verified content of a token. */
export interface TokenClaims {
  readonly sessionId: string;
  readonly purpose: TokenPurpose;
  /** Expiry, milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** Mints and verifies the server's own signed tokens (HMAC-SHA256). */
export interface SessionTokens {
  /** A new token for `sessionId`, valid for `ttlSeconds`; `expiresAt` in ms since the epoch. */
  mint(
    sessionId: string,
    purpose: TokenPurpose,
    ttlSeconds: number,
  ): { token: string; expiresAt: number };
  /** The claims of a valid, unexpired token of that purpose, else `undefined`. */
  verify(token: string, purpose: TokenPurpose): TokenClaims | undefined;
}

/**
 * Tokens are `base64url(json claims).base64url(hmac)`. Without a configured secret a random
 * one is drawn per process, so tokens do not survive a restart (a cluster needs one shared
 * secret).
 */
export function createSessionTokens(secret?: string | Uint8Array): SessionTokens {
  const key = secret ?? randomBytes(32);
  const sign = (body: string) => createHmac('sha256', key).update(body).digest();

  return {
    mint(sessionId, purpose, ttlSeconds) {
      const expiresAt = Date.now() + ttlSeconds * 1000;
      const claims: TokenClaims = { sessionId, purpose, expiresAt };
      const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
      return { token: `${body}.${sign(body).toString('base64url')}`, expiresAt };
    },
    verify(token, purpose) {
      const [body, signature, extra] = token.split('.');
      if (!body || !signature || extra !== undefined) return undefined;
      const expected = sign(body);
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
      let claims: TokenClaims;
      try {
        claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenClaims;
      } catch {
        return undefined;
      }
      if (claims.purpose !== purpose || typeof claims.sessionId !== 'string') return undefined;
      if (!(claims.expiresAt > Date.now())) return undefined;
      return claims;
    },
  };
}
