import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import {
  isValidTwilioSignature,
  signedUrlForms,
  twilioSignature,
} from '../../src/transports/twilio/twilio-signature.js';

// Earshot checks signatures itself (no SDK needed at run time); the `twilio` package is the
// yardstick.
const token = '12345678901234567890123456789012';

describe('the Twilio signature', () => {
  it('is what the twilio package computes, for an upgrade and for a webhook with parameters', () => {
    const params = { CallSid: 'CA1', From: '+15550100', To: '+15550199' };
    for (const url of [
      'wss://calls.example.com/v1/twilio',
      'https://calls.example.com/v1/twilio/voice',
    ]) {
      expect(twilioSignature(token, url)).toBe(twilio.getExpectedTwilioSignature(token, url, {}));
      expect(twilioSignature(token, url, params)).toBe(
        twilio.getExpectedTwilioSignature(token, url, params),
      );
    }
  });

  it('accepts what twilio.validateRequest accepts: the URL with or without its default port', () => {
    const signature = twilioSignature(token, 'wss://calls.example.com/v1/twilio');
    for (const url of [
      'wss://calls.example.com/v1/twilio',
      'wss://calls.example.com:443/v1/twilio',
    ]) {
      expect(twilio.validateRequest(token, signature, url, {})).toBe(true);
      expect(isValidTwilioSignature(token, signature, url)).toBe(true);
    }
  });

  it('accepts the https:// spelling of a wss:// stream URL, and refuses anything else', () => {
    const overHttps = twilioSignature(token, 'https://calls.example.com/v1/twilio');
    expect(isValidTwilioSignature(token, overHttps, 'wss://calls.example.com/v1/twilio')).toBe(
      true,
    );
    expect(isValidTwilioSignature(token, overHttps, 'wss://calls.example.com/v1/other')).toBe(
      false,
    );
    expect(
      isValidTwilioSignature('another-token', overHttps, 'wss://calls.example.com/v1/twilio'),
    ).toBe(false);
    expect(isValidTwilioSignature(token, undefined, 'wss://calls.example.com/v1/twilio')).toBe(
      false,
    );
    expect(isValidTwilioSignature(token, 'short', 'wss://calls.example.com/v1/twilio')).toBe(false);
    expect(signedUrlForms('wss://h/p')).toEqual([
      'wss://h/p',
      'wss://h:443/p',
      'https://h/p',
      'https://h:443/p',
    ]);
  });
});
