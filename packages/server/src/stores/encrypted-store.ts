import { createKeyring, type EncryptionOptions } from './encryption-keys.js';
import { type ReencryptOptions, type ReencryptResult, reencryptStore } from './reencrypt.js';
import { openEventData, openSegment, sealEventData, sealSegment } from './sealed-content.js';
import type { Store } from './store.js';
import { createValueCipher } from './value-cipher.js';

/** A {@link Store} that encrypts what was said before it reaches the store beneath. */
export interface EncryptedStore extends Store {
  /**
   * Rewrites every stored value that is not under the first key (values under older keys, and
   * plaintext written before encryption was turned on) under the first key, walking the
   * sessions page by page. Safe while sessions go on, and resumable: from the `cursor` of a
   * progress report, or from scratch, since values already under the first key are skipped.
   * Once it resolves with `done`, older keys can be dropped.
   */
  reencrypt(options?: ReencryptOptions): Promise<ReencryptResult>;
}

/**
 * Encrypts transcripts at rest in any store — memory, SQLite, PostgreSQL or an app's own —
 * with AES-256-GCM under keys the app supplies: each value gets a random 96-bit IV and is
 * stored as `enc:v1:<keyId>:<base64(iv | tag | ciphertext)>`, with the session id
 * authenticated alongside, so a value copied into another session does not open.
 *
 * What is encrypted: each final segment's `text` and `words`, and every event's `data`
 * (commands' slots and results, the end hook's outcome, broadcasts, DTMF digits). What stays
 * clear: ids, times, order, confidence and speaker of segments, the type of events, and the
 * whole session record — its `metadata` is what listings filter by (`metadata.userId`), so keep
 * names and other identifying data out of it or use opaque ids; its summary and metrics are
 * figures with no speech in them.
 *
 * Reading a value under a key that is not among `keys`, or one that does not authenticate,
 * rejects with `store_error` saying which key it needs. Values stored as plaintext before
 * encryption was turned on read as they are, until {@link EncryptedStore.reencrypt} seals
 * them. Invalid keys (not 32 bytes, ids repeated or malformed) throw `invalid_request` here.
 *
 * @example
 * ```ts
 * const store = encryptStore(await createSqliteStore({ path: './earshot.db' }), {
 *   // The first key encrypts; all decrypt. Rotate: put a new key first, run reencrypt(),
 *   // then drop the old one.
 *   keys: [{ id: '2026-05', key: process.env.EARSHOT_KEY_2026_05! }],
 * });
 * createEarshotServer({ provider, store });
 * ```
 */
export function encryptStore(store: Store, options: EncryptionOptions): EncryptedStore {
  const cipher = createValueCipher(createKeyring(options.keys));
  return {
    kind: store.kind,
    createSession: (record) => store.createSession(record),
    updateSession: (id, patch) => store.updateSession(id, patch),
    getSession: (id) => store.getSession(id),
    listSessions: (query) => store.listSessions(query),
    appendSegment: (id, segment) => store.appendSegment(id, sealSegment(cipher, id, segment)),
    getSegments: async (id) =>
      (await store.getSegments(id)).map((segment) => openSegment(cipher, id, segment)),
    appendEvent: (id, event) =>
      store.appendEvent(id, { ...event, data: sealEventData(cipher, id, event.data) }),
    getEvents: async (id) =>
      (await store.getEvents(id)).map((event) => ({
        ...event,
        data: openEventData(cipher, id, event.data),
      })),
    replaceContent: (id, content) =>
      store.replaceContent(id, {
        segments: content.segments?.map((segment) => sealSegment(cipher, id, segment)),
        events: content.events?.map(({ index, data }) => ({
          index,
          data: sealEventData(cipher, id, data),
        })),
      }),
    deleteSessionsBefore: (before, deleteOptions) =>
      store.deleteSessionsBefore(before, deleteOptions),
    ping: () => store.ping(),
    close: () => store.close(),
    reencrypt: (reencryptOptions) => reencryptStore(store, cipher, reencryptOptions),
  };
}
