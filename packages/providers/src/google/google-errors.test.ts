import { describe, expect, it } from 'vitest';
import { googleFailure, googleFailureKind } from './google-errors.js';

describe('google errors: gRPC statuses as failure kinds', () => {
  it.each([
    [16, 'Request had invalid authentication credentials.', 'open', 'auth'],
    [7, 'The caller does not have permission', 'stream', 'auth'],
    [3, 'API key not valid. Please pass a valid API key.', 'open', 'auth'],
    [3, 'Invalid recognition config: bad sample rate', 'open', 'rejected'],
    [11, 'Exceeded maximum allowed stream duration of 305 seconds.', 'stream', 'stream-limit'],
    [11, 'Audio Timeout Error: Long duration elapsed without audio.', 'stream', 'timeout'],
    [
      11,
      'Audio data is being streamed too slow. Please stream audio data approximately at real time.',
      'stream',
      'timeout',
    ],
    [4, 'Deadline exceeded', 'stream', 'timeout'],
    [8, 'Quota exceeded', 'open', 'rate-limited'],
    [14, 'connect ECONNREFUSED', 'open', 'unreachable'],
    [14, 'Connection dropped', 'stream', 'dropped'],
    [13, 'Internal error', 'stream', 'dropped'],
    [1, 'Cancelled', 'stream', 'dropped'],
    [undefined, 'Could not load the default credentials.', 'open', 'auth'],
  ] as const)('gRPC %s "%s" at %s is %s', (code, message, phase, kind) => {
    expect(googleFailureKind(code, message, phase)).toBe(kind);
  });

  it('wraps an SDK error as a fatal provider failure with the status as vendorCode', () => {
    const error = googleFailure(
      {
        code: 16,
        details: 'API key not valid.',
        message: '16 UNAUTHENTICATED: API key not valid.',
      },
      'open',
    );
    expect(error.fatal).toBe(true);
    expect(error.code).toBe('provider_unavailable');
    expect(error.details).toMatchObject({ failure: 'auth', vendorCode: 16, provider: 'google' });
    expect(error.message).toContain('API key not valid.');
  });
});
