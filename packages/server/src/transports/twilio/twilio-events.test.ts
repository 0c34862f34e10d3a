import { describe, expect, it } from 'vitest';
import { decodeBase64Strict, parseTwilioFrame } from './twilio-events.js';

describe('parseTwilioFrame', () => {
  it('reads a media frame', () => {
    const frame = { event: 'media', sequenceNumber: '3', media: { payload: 'AAE=' } };
    expect(parseTwilioFrame(JSON.stringify(frame))).toEqual({
      ok: true,
      event: { ...frame, media: { payload: 'AAE=', track: 'inbound' } },
    });
  });

  it('refuses an event nested tens of thousands of levels deep as unknown, without throwing', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(parseTwilioFrame(`{"event":${deep}}`)).toEqual({
      ok: false,
      problem: 'unknown_event',
      detail: 'event array',
    });
  });

  it('keeps the detail of a refused frame short, whatever the frame holds', () => {
    const unknown = parseTwilioFrame(JSON.stringify({ event: 'x'.repeat(100_000) }));
    expect(!unknown.ok && unknown.detail).toBe(`event "${'x'.repeat(40)}…"`);
    const start = {
      event: 'start',
      streamSid: 'MZ1',
      start: { streamSid: 'MZ1', callSid: 'CA1', customParameters: { ['k'.repeat(100_000)]: 1 } },
    };
    const malformed = parseTwilioFrame(JSON.stringify(start));
    expect(!malformed.ok && malformed.problem).toBe('malformed');
    expect(!malformed.ok && malformed.detail.length).toBeLessThan(200);
  });
});

describe('decodeBase64Strict', () => {
  it('decodes whole base64 quanta and refuses anything Buffer.from would skip', () => {
    expect(decodeBase64Strict('AAE=')).toEqual(Buffer.from([0, 1]));
    expect(decodeBase64Strict('AA E=')).toBeUndefined();
    expect(decodeBase64Strict('AAE')).toBeUndefined();
    expect(decodeBase64Strict('A=AE')).toBeUndefined();
  });
});
