import { EarshotError } from '@earshot/protocol';

/**
 * Why a provider's upstream failed, as the resilient layer needs to know it: whether trying
 * again can help, and what the client is told when it cannot.
 *
 * | kind           | code                   | retry? | e.g.                                           |
 * |----------------|------------------------|--------|------------------------------------------------|
 * | `auth`         | `provider_unavailable` | no     | bad API key (HTTP 401/403, gRPC UNAUTHENTICATED) |
 * | `rejected`     | `provider_error`       | no     | the vendor refused the config or the audio (400) |
 * | `unreachable`  | `provider_unavailable` | yes    | connection refused, DNS, TLS, HTTP 5xx at open |
 * | `dropped`      | `provider_error`       | yes    | socket reset or closed mid-stream (1006, 1011) |
 * | `timeout`      | `provider_error`       | yes    | the vendor's idle timeout, a stalled upstream  |
 * | `stream-limit` | `provider_error`       | yes    | the vendor's stream-length cap (Google 305 s)  |
 * | `rate-limited` | `capacity`             | yes    | HTTP 429, concurrency caps                     |
 */
export type ProviderFailureKind =
  | 'auth'
  | 'rejected'
  | 'unreachable'
  | 'dropped'
  | 'timeout'
  | 'stream-limit'
  | 'rate-limited';

const CODE = {
  auth: 'provider_unavailable',
  rejected: 'provider_error',
  unreachable: 'provider_unavailable',
  dropped: 'provider_error',
  timeout: 'provider_error',
  'stream-limit': 'provider_error',
  'rate-limited': 'capacity',
} as const satisfies Record<ProviderFailureKind, string>;

const RETRYABLE: Readonly<Record<ProviderFailureKind, boolean>> = {
  auth: false,
  rejected: false,
  unreachable: true,
  dropped: true,
  timeout: true,
  'stream-limit': true,
  'rate-limited': true,
};

/** Options of {@link providerFailure}. */
export interface ProviderFailureOptions {
  /** The vendor's own error, kept for logs. */
  readonly cause?: unknown;
  /** The vendor's code (HTTP status, close code, gRPC status), kept in `details`. */
  readonly vendorCode?: string | number;
  /** The provider's name, kept in `details`. */
  readonly provider?: string;
}

/**
 * A fatal {@link EarshotError} for an upstream that has failed, carrying its
 * {@link ProviderFailureKind} in `details.failure` and whether a retry may help in
 * `details.retryable`.
 *
 * @example
 * ```ts
 * stream.emit('error', providerFailure('auth', 'Deepgram refused the API key (401)', { vendorCode: 401 }));
 * ```
 */
export function providerFailure(
  kind: ProviderFailureKind,
  message: string,
  options: ProviderFailureOptions = {},
): EarshotError {
  return new EarshotError(CODE[kind], message, {
    cause: options.cause,
    fatal: true,
    details: {
      failure: kind,
      retryable: RETRYABLE[kind],
      ...(options.vendorCode === undefined ? {} : { vendorCode: options.vendorCode }),
      ...(options.provider === undefined ? {} : { provider: options.provider }),
    },
  });
}

/** The {@link ProviderFailureKind} of `error`, if it came from {@link providerFailure}. */
export function failureKindOf(error: unknown): ProviderFailureKind | undefined {
  if (!EarshotError.isInstance(error)) return undefined;
  const kind = error.details?.failure;
  return typeof kind === 'string' && kind in CODE ? (kind as ProviderFailureKind) : undefined;
}

/**
 * Whether retrying may help after `error`. Errors that do not say (not made by
 * {@link providerFailure}) count as retryable when they are `provider_error` or
 * `provider_unavailable` without a reason: a dropped socket should not end a call.
 */
export function isRetryableFailure(error: unknown): boolean {
  if (!EarshotError.isInstance(error)) return true;
  const retryable = error.details?.retryable;
  if (typeof retryable === 'boolean') return retryable;
  return error.code === 'provider_error' || error.code === 'internal';
}

/**
 * The usual kind for an HTTP status a vendor answered an upgrade or request with.
 *
 * @example
 * ```ts
 * failureKindForHttpStatus(401); // 'auth'
 * ```
 */
export function failureKindForHttpStatus(status: number): ProviderFailureKind {
  if (status === 401 || status === 403) return 'auth';
  if (status === 429) return 'rate-limited';
  if (status === 408) return 'timeout';
  if (status >= 400 && status < 500) return 'rejected';
  return 'unreachable';
}
