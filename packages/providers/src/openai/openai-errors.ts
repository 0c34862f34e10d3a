import { EarshotError } from '@earshot/protocol';
import {
  failureKindForHttpStatus,
  type ProviderFailureKind,
  providerFailure,
} from '../shared/index.js';
import type { RealtimeWireError } from './openai-wire.js';

const PROVIDER = 'openai';

/** The upgrade was answered with an HTTP status instead of 101 (401 for a bad key). */
export function upgradeRefused(status: number): EarshotError {
  const kind = failureKindForHttpStatus(status);
  const why = kind === 'auth' ? 'refused the API key' : 'refused the connection';
  return providerFailure(kind, `OpenAI ${why} (HTTP ${status})`, {
    vendorCode: status,
    provider: PROVIDER,
  });
}

/** The connection could not be made: refused, DNS, TLS, or no session in time. */
export function unreachable(message: string, cause?: unknown): EarshotError {
  return providerFailure('unreachable', `OpenAI Realtime is unreachable: ${message}`, {
    cause,
    provider: PROVIDER,
  });
}

/**
 * The kind of failure an `error` event means when it ends the session, or `undefined` for
 * the errors after which the session goes on (most of them: a bad event, an empty commit).
 */
export function fatalKindOfErrorEvent(error: RealtimeWireError): ProviderFailureKind | undefined {
  switch (error.code) {
    // The session cap (60 min at the time of writing).
    case 'session_expired':
      return 'stream-limit';
    // Not documented by OpenAI; the emulator's idle close, kept in case the service adds one.
    case 'idle_timeout':
      return 'timeout';
    case 'invalid_api_key':
      return 'auth';
    case 'rate_limit_exceeded':
    case 'insufficient_quota':
      return 'rate-limited';
    default:
      return error.type === 'authentication_error' ? 'auth' : undefined;
  }
}

/** A fatal failure from an `error` event of kind `kind`. */
export function errorEventFailure(
  kind: ProviderFailureKind,
  error: RealtimeWireError,
): EarshotError {
  return providerFailure(kind, `OpenAI: ${error.message}`, {
    vendorCode: error.code ?? error.type,
    provider: PROVIDER,
  });
}

/**
 * A non-fatal `provider_error` for an `error` event or a failed transcription: the session
 * goes on. `details` carry the vendor's code and, for an item, its segment.
 */
export function vendorError(
  error: RealtimeWireError,
  context: { itemId?: string; segmentId?: string } = {},
): EarshotError {
  return new EarshotError('provider_error', `OpenAI: ${error.message}`, {
    details: {
      provider: PROVIDER,
      vendorCode: error.code ?? error.type,
      ...(error.param ? { param: error.param } : {}),
      ...context,
    },
  });
}

/** A non-fatal `provider_error` for a server event that does not match its schema. */
export function malformedEvent(type: string, problem: string): EarshotError {
  return new EarshotError('provider_error', `OpenAI sent a malformed ${type} event: ${problem}`, {
    details: { provider: PROVIDER },
  });
}

/**
 * The failure for a socket the server closed (or that broke) while streaming. 1008 (policy)
 * means the service refused what it was sent; 1013 (try again later) is overload; anything
 * else, including 1006 (no close frame) and 1011, is a drop the resilient layer may retry.
 */
export function closedUnexpectedly(code: number, reason: string, cause?: unknown): EarshotError {
  const kind: ProviderFailureKind =
    code === 1008 ? 'rejected' : code === 1013 ? 'rate-limited' : 'dropped';
  const why = reason === '' ? '' : `: ${reason}`;
  return providerFailure(kind, `OpenAI closed the stream (${code}${why})`, {
    cause,
    vendorCode: code,
    provider: PROVIDER,
  });
}
