import { createSecretKey, type KeyObject } from 'node:crypto';
import { EarshotError } from '@earshot/protocol';

/** One key of a store's encryption at rest (see `encryptStore`). */
export interface EncryptionKey {
  /**
   * Names the key in every value it encrypts, so a value says which key opens it: 1–64
   * letters, digits, `.`, `_` or `-` (`2026-05`, `k2`). Never reuse an id for other key bytes.
   */
  readonly id: string;
  /** 32 random bytes (AES-256), or the same 32 bytes in base64 (`openssl rand -base64 32`). */
  readonly key: Uint8Array | string;
}

/** Options of `encryptStore`. */
export interface EncryptionOptions {
  /**
   * The first key encrypts everything written from now on; every key decrypts. To rotate, put
   * the new key first and keep the old ones until `reencrypt()` has finished.
   */
  readonly keys: readonly EncryptionKey[];
}

/** Validated keys, by id: the first one encrypts. */
export interface Keyring {
  /** Id of the key that encrypts. */
  readonly currentId: string;
  /** Every id, in the order given. */
  readonly ids: readonly string[];
  /** The key with this id, or `undefined` when it is not among the keys. */
  get(id: string): KeyObject | undefined;
}

const KEY_BYTES = 32;
// No `:`: it separates the parts of a sealed value.
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+)$/;

/**
 * Checks `keys` and holds them as `KeyObject`s (copies: an app that reuses its buffer changes
 * nothing here, and a key object never prints its bytes in a log). Anything wrong is
 * `invalid_request` naming the key, never showing it.
 */
export function createKeyring(keys: readonly EncryptionKey[]): Keyring {
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new EarshotError('invalid_request', 'encryption needs at least one key in `keys`');
  }
  const byId = new Map<string, KeyObject>();
  for (const { id, key } of keys) {
    if (typeof id !== 'string' || !KEY_ID.test(id)) {
      throw new EarshotError(
        'invalid_request',
        `encryption key id ${JSON.stringify(id)} is not valid: use 1–64 letters, digits, ".", "_" or "-"`,
      );
    }
    if (byId.has(id)) {
      throw new EarshotError('invalid_request', `encryption key id "${id}" is listed twice`);
    }
    byId.set(id, createSecretKey(keyBytes(id, key)));
  }
  return {
    currentId: keys[0]!.id,
    ids: [...byId.keys()],
    get: (id) => byId.get(id),
  };
}

function keyBytes(id: string, key: Uint8Array | string): Buffer {
  let bytes: Buffer;
  if (typeof key === 'string') {
    if (!BASE64.test(key)) {
      throw new EarshotError('invalid_request', `encryption key "${id}" is not base64`);
    }
    bytes = Buffer.from(key, 'base64');
  } else if (key instanceof Uint8Array) {
    bytes = Buffer.from(key);
  } else {
    throw new EarshotError(
      'invalid_request',
      `encryption key "${id}" must be a Buffer, a Uint8Array or a base64 string`,
    );
  }
  if (bytes.length !== KEY_BYTES) {
    throw new EarshotError(
      'invalid_request',
      `encryption key "${id}" must be ${KEY_BYTES} bytes (AES-256), not ${bytes.length}`,
    );
  }
  return bytes;
}
