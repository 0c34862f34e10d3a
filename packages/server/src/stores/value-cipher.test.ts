import { createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKeyring } from './encryption-keys.js';
import { createValueCipher, isSealed, sealedKeyId } from './value-cipher.js';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const cipherOf = (...keys: [string, Buffer][]) =>
  createValueCipher(createKeyring(keys.map(([id, key]) => ({ id, key }))));

describe('the value cipher', () => {
  it('seals as enc:v1:<keyId>:<base64(iv | tag | ciphertext)>, AES-256-GCM with the session id as AAD', () => {
    const sealed = cipherOf(['k1', k1]).seal('blood pressure one forty', 'session-a');
    expect(sealed).toMatch(/^enc:v1:k1:[A-Za-z0-9+/]+=*$/);
    expect(isSealed(sealed)).toBe(true);
    expect(sealedKeyId(sealed)).toBe('k1');
    // Decrypted by hand from the layout alone, as another implementation would.
    const bytes = Buffer.from(sealed.split(':')[3]!, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', k1, bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from('session-a'));
    decipher.setAuthTag(bytes.subarray(12, 28));
    const plain = Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]);
    expect(plain.toString()).toBe('blood pressure one forty');
  });

  it('uses a fresh IV for every value: the same text seals differently each time', () => {
    const cipher = cipherOf(['k1', k1]);
    const ivs = new Set(
      Array.from({ length: 50 }, () =>
        Buffer.from(cipher.seal('same', 's').split(':')[3]!, 'base64')
          .subarray(0, 12)
          .toString('hex'),
      ),
    );
    expect(ivs.size).toBe(50);
  });

  it('opens what it sealed, also under an older key that is still listed', () => {
    const old = cipherOf(['k1', k1]).seal('ünïcödé and emoji 🩺', 's');
    const rotated = cipherOf(['k2', k2], ['k1', k1]);
    expect(rotated.keyId).toBe('k2');
    expect(rotated.open(old, 's')).toBe('ünïcödé and emoji 🩺');
    expect(sealedKeyId(rotated.seal('x', 's'))).toBe('k2');
  });

  it('rejects a value under a key that is not listed with store_error naming that key', () => {
    const sealed = cipherOf(['k1', k1]).seal('secret', 's');
    expect(() => cipherOf(['k2', k2]).open(sealed, 's')).toThrow(
      expect.objectContaining({
        code: 'store_error',
        message: expect.stringMatching(/key "k1", which is not among the keys \(k2\)/),
        details: { sessionId: 's', keyId: 'k1' },
      }),
    );
  });

  it('rejects a value moved to another session, altered, or opened by other bytes under its id', () => {
    const cipher = cipherOf(['k1', k1]);
    const sealed = cipher.seal('secret', 'session-a');
    expect(() => cipher.open(sealed, 'session-b')).toThrow(
      expect.objectContaining({
        code: 'store_error',
        message: expect.stringMatching(/does not authenticate/),
      }),
    );
    const payload = Buffer.from(sealed.split(':')[3]!, 'base64');
    payload[payload.length - 1]! ^= 1;
    expect(() => cipher.open(`enc:v1:k1:${payload.toString('base64')}`, 'session-a')).toThrow(
      expect.objectContaining({ code: 'store_error' }),
    );
    expect(() => cipherOf(['k1', k2]).open(sealed, 'session-a')).toThrow(
      expect.objectContaining({ code: 'store_error' }),
    );
  });

  it('rejects another format version and truncated values with store_error, showing no ciphertext', () => {
    const cipher = cipherOf(['k1', k1]);
    const sealed = cipher.seal('secret', 's');
    const v2 = sealed.replace('enc:v1:', 'enc:v2:');
    expect(() => cipher.open(v2, 's')).toThrow(
      expect.objectContaining({
        code: 'store_error',
        message: expect.stringMatching(/not in a format this version reads \("enc:v2:…"\)/),
      }),
    );
    expect(() => cipher.open(v2, 's')).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(sealed.split(':')[3]!) }),
    );
    expect(() => cipher.open('enc:v1:k1:AAAA', 's')).toThrow(
      expect.objectContaining({ code: 'store_error', message: expect.stringMatching(/truncated/) }),
    );
  });

  it('tells plaintext from sealed values', () => {
    expect(isSealed('he was not an ill disposed young man')).toBe(false);
    expect(sealedKeyId('he was not an ill disposed young man')).toBeUndefined();
  });
});
