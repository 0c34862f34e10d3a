import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKeyring } from './encryption-keys.js';

const key = () => randomBytes(32);

describe('the keys of encryption at rest', () => {
  it('takes 32-byte buffers and base64 strings; the first key is the one that encrypts', () => {
    const keyring = createKeyring([
      { id: 'k2', key: key().toString('base64') },
      { id: 'k1', key: new Uint8Array(key()) },
      { id: '2026-05_a.b', key: key().toString('base64url') },
    ]);
    expect(keyring.currentId).toBe('k2');
    expect(keyring.ids).toEqual(['k2', 'k1', '2026-05_a.b']);
    expect(keyring.get('k1')?.symmetricKeySize).toBe(32);
    expect(keyring.get('k3')).toBeUndefined();
  });

  it('keeps its own copy: an app that reuses its buffer changes nothing', () => {
    const bytes = key();
    const keyring = createKeyring([{ id: 'k1', key: bytes }]);
    const before = keyring.get('k1')!.export();
    bytes.fill(0);
    expect(keyring.get('k1')!.export()).toEqual(before);
  });

  it.each([
    ['no keys', [], /at least one key/],
    [
      'a short key',
      [{ id: 'k1', key: randomBytes(16) }],
      /"k1" must be 32 bytes \(AES-256\), not 16/,
    ],
    ['a long base64 key', [{ id: 'k1', key: randomBytes(48).toString('base64') }], /not 48/],
    ['a key that is not base64', [{ id: 'k1', key: 'not base64 at all!' }], /"k1" is not base64/],
    ['a key of the wrong type', [{ id: 'k1', key: 42 as unknown as string }], /must be a Buffer/],
    [
      'an id listed twice',
      [
        { id: 'k1', key: key() },
        { id: 'k1', key: key() },
      ],
      /listed twice/,
    ],
    ['an id with a colon', [{ id: 'k:1', key: key() }], /"k:1" is not valid/],
    ['an empty id', [{ id: '', key: key() }], /"" is not valid/],
  ])('refuses %s with invalid_request', (_, keys, message) => {
    expect(() => createKeyring(keys)).toThrow(
      expect.objectContaining({ code: 'invalid_request', message: expect.stringMatching(message) }),
    );
  });

  it('never shows a key in its errors', () => {
    const secret = randomBytes(31).toString('base64');
    expect(() => createKeyring([{ id: 'k1', key: secret }])).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(secret) }),
    );
  });
});
