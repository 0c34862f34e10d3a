import type { EarshotError } from '@earshot/protocol';
import { type ProviderFailureKind, providerFailure } from './provider-failure.js';

/** A class whose instances `instanceof` can narrow to `T`, whatever its constructor takes. */
/** A class whose instances are `T`: one of the `openai` SDK's error classes, by shape. */
export type ErrorClass<T> = abstract new (...args: never[]) => T;

/**
 * The `openai` SDK's error classes, passed in because the SDK is an optional peer loaded
 * lazily (`await import('openai')` satisfies it). Typed by shape rather than by the SDK's
 * own declarations so this module's types never make `openai` a dependency.
 */
export interface OpenAIErrorClasses {
  readonly APIError: ErrorClass<
    Error & { readonly status: number | undefined; readonly code: string | null | undefined }
  >;
  readonly APIConnectionError: ErrorClass<Error>;
  readonly APIConnectionTimeoutError: ErrorClass<Error>;
}

/**
 * When a request failed: while opening (a lookup that proves the endpoint works), or a
 * request made once the caller is already relying on the service.
 */
export type OpenAIRequestPhase = 'open' | 'request';

/** Options of {@link openAIRequestFailure}. */
export interface OpenAIRequestFailureOptions {
  /** The provider (or responder) name kept in `details.provider`. */
  readonly provider: string;
  /** What was asked, for messages: `a transcription request`, `a chat completion`. */
  readonly request: string;
  /** Defaults to `request`. */
  readonly phase?: OpenAIRequestPhase;
}

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

/**
 * The kind of a failed HTTP answer. At open a 5xx is `unreachable` (the service is down);
 * a later request's 5xx is `dropped`. Both are retryable.
 */
function kindForStatus(
  status: number,
  code: string | null | undefined,
  phase: OpenAIRequestPhase,
): ProviderFailureKind {
  if (status === 401 || status === 403) return 'auth';
  // An exhausted quota is a 429 too, but waiting does not help: the account must be topped up.
  if (status === 429) return code === 'insufficient_quota' ? 'auth' : 'rate-limited';
  if (status === 408) return 'timeout';
  if (status >= 400 && status < 500) return 'rejected';
  return phase === 'open' ? 'unreachable' : 'dropped';
}

/**
 * Turns whatever an `openai` SDK request threw into a fatal {@link providerFailure}: 401 →
 * `auth`, 429 → `rate-limited` (`auth` when the quota is exhausted), 5xx → `dropped`
 * (`unreachable` at open), other 4xx → `rejected` (an unknown model is a 404), a refused
 * connection → `unreachable`, a broken one → `dropped` (`unreachable` at open), the SDK's
 * request timeout → `timeout`.
 *
 * @example
 * ```ts
 * const sdk = await loadOptionalSdk('openai', () => import('openai'));
 * try {
 *   await client.audio.transcriptions.create(params);
 * } catch (error) {
 *   throw openAIRequestFailure(error, sdk, { provider: 'openai-batch', request: 'a transcription request' });
 * }
 * ```
 */
export function openAIRequestFailure(
  error: unknown,
  sdk: OpenAIErrorClasses,
  options: OpenAIRequestFailureOptions,
): EarshotError {
  const { provider, request } = options;
  const phase = options.phase ?? 'request';
  if (error instanceof sdk.APIConnectionTimeoutError) {
    return providerFailure('timeout', `OpenAI did not answer ${request} in time`, {
      cause: error,
      provider,
    });
  }
  if (error instanceof sdk.APIConnectionError) {
    const codes = causeCodes(error);
    const unreachable = phase === 'open' || codes.some((code) => UNREACHABLE_CODES.has(code));
    return providerFailure(
      unreachable ? 'unreachable' : 'dropped',
      unreachable
        ? `OpenAI is unreachable (${codes.join(', ') || 'connection failed'})`
        : `the connection to OpenAI broke during ${request} (${codes.join(', ') || 'no answer'})`,
      { cause: error, provider, ...(codes[0] ? { vendorCode: codes[0] } : {}) },
    );
  }
  if (error instanceof sdk.APIError && typeof error.status === 'number') {
    const kind = kindForStatus(error.status, error.code, phase);
    return providerFailure(kind, `OpenAI answered ${error.message}`, {
      cause: error,
      provider,
      vendorCode: error.status,
    });
  }
  return providerFailure('dropped', `${request} failed: ${String(error)}`, {
    cause: error,
    provider,
  });
}
