import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { EarshotError } from '@earshot/protocol';
import type { Keyring } from './encryption-keys.js';

// A sealed value is `enc:v1:<keyId>:<base64(iv | tag | ciphertext)>`: self-describing, so a
// store holds plaintext written before encryption was turned on beside sealed values, and a
// reader knows which key (and which format version) opens each one.
const MARK = 'enc:';
const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Encrypts and decrypts single string values with AES-256-GCM, bound to their session. */
export interface ValueCipher {
  /** Id of the key that {@link ValueCipher.seal} encrypts with. */
  readonly keyId: string;
  /**
   * Encrypts `plaintext` under the current key with a fresh random 96-bit IV. The session id is
   * authenticated with it: the value opens only as a value of that session.
   */
  seal(plaintext: string, sessionId: string): string;
  /**
   * Decrypts a value made by {@link ValueCipher.seal} under any of the keys. Rejects a value
   * under a key that is not among them, in another format version, altered, or moved from
   * another session with `store_error`.
   */
  open(sealed: string, sessionId: string): string;
}

/** Whether `value` is a sealed value rather than plaintext. */
export function isSealed(value: string): boolean {
  return value.startsWith(MARK);
}

/** Id of the key a sealed value was encrypted with; `undefined` for anything else. */
export function sealedKeyId(value: string): string | undefined {
  return parse(value)?.keyId;
}

/** A {@link ValueCipher} over `keyring`. */
export function createValueCipher(keyring: Keyring): ValueCipher {
  const current = keyring.get(keyring.currentId)!;
  return {
    keyId: keyring.currentId,
    seal(plaintext, sessionId) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(ALGORITHM, current, iv);
      cipher.setAAD(Buffer.from(sessionId, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const payload = Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
      return `${MARK}${VERSION}:${keyring.currentId}:${payload}`;
    },
    open(sealed, sessionId) {
      const parts = parse(sealed);
      if (!parts || parts.version !== VERSION) {
        // Only the head: the rest is ciphertext, which has no place in a log.
        const head = sealed.slice(0, sealed.indexOf(':', MARK.length) + 1 || 8);
        throw failure(sessionId, `it is not in a format this version reads ("${head}…")`);
      }
      const key = keyring.get(parts.keyId);
      if (!key) {
        throw failure(
          sessionId,
          `it was encrypted with key "${parts.keyId}", which is not among the keys (${keyring.ids.join(', ')}); add that key back to read it`,
          parts.keyId,
        );
      }
      const bytes = Buffer.from(parts.payload, 'base64');
      if (bytes.length < IV_BYTES + TAG_BYTES) throw failure(sessionId, 'it is truncated');
      try {
        const decipher = createDecipheriv(ALGORITHM, key, bytes.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(sessionId, 'utf8'));
        decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        const body = bytes.subarray(IV_BYTES + TAG_BYTES);
        return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      } catch (cause) {
        throw failure(
          sessionId,
          `key "${parts.keyId}" does not authenticate it: a different key under that id, or the value was altered or belongs to another session`,
          parts.keyId,
          cause,
        );
      }
    },
  };
}

function parse(value: string): { version: string; keyId: string; payload: string } | undefined {
  if (!isSealed(value)) return undefined;
  const [, version, keyId, payload, ...rest] = value.split(':');
  if (!version || !keyId || payload === undefined || rest.length > 0) return undefined;
  return { version, keyId, payload };
}

function failure(sessionId: string, why: string, keyId?: string, cause?: unknown): EarshotError {
  return new EarshotError(
    'store_error',
    `cannot decrypt a stored value of session ${sessionId}: ${why}`,
    {
      cause,
      details: { sessionId, ...(keyId === undefined ? {} : { keyId }) },
    },
  );
}
