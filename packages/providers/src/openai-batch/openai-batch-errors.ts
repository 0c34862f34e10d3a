import type { EarshotError } from '@earshot/protocol';
import type { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { type ProviderFailureKind, providerFailure } from '../shared/provider-failure.js';

/** The SDK's error classes, passed in because the SDK is loaded lazily. */
export interface OpenAIErrorClasses {
  readonly APIError: typeof APIError;
  readonly APIConnectionError: typeof APIConnectionError;
  readonly APIConnectionTimeoutError: typeof APIConnectionTimeoutError;
}

const PROVIDER = 'openai-batch';

// Errno codes of a connection that never got through (vs one that broke once established).
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Every `code` along an error's `cause` chain (fetch hides errno codes a level or two down). */
function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string') codes.push(code);
    current = current.cause;
  }
  return codes;
}

/** When a request failed: the model lookup in `open()`, or an utterance mid-stream. */
export type OpenAIBatchPhase = 'open' | 'request';

/**
 * The kind of a failed HTTP answer. At open a 5xx is `unreachable` (the service is down);
 * an utterance's request is mid-stream, so there it is `dropped`. Both are retryable.
 */
function kindForStatus(
  status: number,
  code: string | null | undefined,
  phase: OpenAIBatchPhase,
): ProviderFailureKind {
  if (status === 401 || status === 403) return 'auth';
  // An exhausted quota is a 429 too, but waiting does not help: the account must be topped up.
  if (status === 429) return code === 'insufficient_quota' ? 'auth' : 'rate-limited';
  if (status === 408) return 'timeout';
  if (status >= 400 && status < 500) return 'rejected';
  return phase === 'open' ? 'unreachable' : 'dropped';
}

/**
 * Turns whatever a request threw into a fatal {@link providerFailure}: 401 → `auth`, 429 →
 * `rate-limited`, 5xx → `dropped` (`unreachable` at open), other 4xx → `rejected` (an
 * unknown model is a 404), a refused connection → `unreachable`, a broken one → `dropped`
 * (`unreachable` at open), the request timeout → `timeout`.
 */
export function transcriptionFailure(
  error: unknown,
  sdk: OpenAIErrorClasses,
  phase: OpenAIBatchPhase = 'request',
): EarshotError {
  if (error instanceof sdk.APIConnectionTimeoutError) {
    return providerFailure('timeout', 'OpenAI did not answer a transcription request in time', {
      cause: error,
      provider: PROVIDER,
    });
  }
  if (error instanceof sdk.APIConnectionError) {
    const codes = causeCodes(error);
    const unreachable = phase === 'open' || codes.some((code) => UNREACHABLE_CODES.has(code));
    return providerFailure(
      unreachable ? 'unreachable' : 'dropped',
      unreachable
        ? `OpenAI is unreachable (${codes.join(', ') || 'connection failed'})`
        : `the connection to OpenAI broke during a transcription request (${codes.join(', ') || 'no answer'})`,
      { cause: error, provider: PROVIDER, ...(codes[0] ? { vendorCode: codes[0] } : {}) },
    );
  }
  if (error instanceof sdk.APIError && typeof error.status === 'number') {
    const kind = kindForStatus(error.status, error.code, phase);
    return providerFailure(kind, `OpenAI answered ${error.message}`, {
      cause: error,
      provider: PROVIDER,
      vendorCode: error.status,
    });
  }
  return providerFailure('dropped', `a transcription request failed: ${String(error)}`, {
    cause: error,
    provider: PROVIDER,
  });
}
