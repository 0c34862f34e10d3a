import { EarshotError } from '@earshot/protocol';
import { type ProviderFailureKind, providerFailure } from '../shared/index.js';

/** gRPC status codes (stable numbers of the gRPC spec), so the SDK need not be loaded to name them. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** Whether the call had been accepted when it failed: the same status means different things. */
export type GoogleCallPhase = 'open' | 'stream';

/**
 * The {@link ProviderFailureKind} of a gRPC status from Speech-to-Text.
 *
 * | status | kind |
 * |---|---|
 * | UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT "API key not valid" | `auth` |
 * | OUT_OF_RANGE "Exceeded maximum allowed stream duration" | `stream-limit` |
 * | OUT_OF_RANGE "Audio Timeout Error" / "too slow", DEADLINE_EXCEEDED | `timeout` |
 * | RESOURCE_EXHAUSTED | `rate-limited` |
 * | INVALID_ARGUMENT, other OUT_OF_RANGE, NOT_FOUND, FAILED_PRECONDITION, UNIMPLEMENTED | `rejected` |
 * | UNAVAILABLE, INTERNAL, CANCELLED, UNKNOWN, ABORTED, DATA_LOSS | `unreachable` at open, `dropped` after |
 */
export function googleFailureKind(
  code: number | undefined,
  message: string,
  phase: GoogleCallPhase,
): ProviderFailureKind {
  const broken = phase === 'open' ? 'unreachable' : 'dropped';
  switch (code) {
    case GrpcStatus.UNAUTHENTICATED:
    case GrpcStatus.PERMISSION_DENIED:
      return 'auth';
    case GrpcStatus.INVALID_ARGUMENT:
      return /api[ _-]?key/i.test(message) ? 'auth' : 'rejected';
    case GrpcStatus.OUT_OF_RANGE:
      if (/maximum allowed stream duration/i.test(message)) return 'stream-limit';
      if (/audio timeout|too slow/i.test(message)) return 'timeout';
      return 'rejected';
    case GrpcStatus.DEADLINE_EXCEEDED:
      return 'timeout';
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return 'rate-limited';
    case GrpcStatus.NOT_FOUND:
    case GrpcStatus.ALREADY_EXISTS:
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.UNIMPLEMENTED:
      return 'rejected';
    case undefined:
      // No status: the SDK failed before the call, e.g. google-auth-library found no credentials.
      return /credential|authenticat/i.test(message) ? 'auth' : broken;
    default:
      return broken;
  }
}

/** The status code and text of whatever the SDK emitted as an `error`. */
function statusOf(error: unknown): { code: number | undefined; text: string } {
  if (typeof error !== 'object' || error === null) return { code: undefined, text: String(error) };
  const { code, details, message } = error as {
    code?: unknown;
    details?: unknown;
    message?: unknown;
  };
  const text =
    typeof details === 'string' && details !== ''
      ? details
      : typeof message === 'string'
        ? message
        : String(error);
  return { code: typeof code === 'number' ? code : undefined, text };
}

/**
 * A fatal {@link EarshotError} for a failed `StreamingRecognize` call, with its
 * {@link ProviderFailureKind} and the gRPC status as `vendorCode`.
 *
 * @example
 * ```ts
 * googleFailure({ code: 11, details: 'Exceeded maximum allowed stream duration of 305 seconds.' }, 'stream');
 * // provider_error, details.failure 'stream-limit'
 * ```
 */
export function googleFailure(error: unknown, phase: GoogleCallPhase): EarshotError {
  const { code, text } = statusOf(error);
  const kind = googleFailureKind(code, text, phase);
  const what = phase === 'open' ? 'Google refused the stream' : 'the Google stream failed';
  return providerFailure(kind, `${what}: ${code === undefined ? '' : `gRPC ${code} `}${text}`, {
    cause: error,
    provider: 'google',
    ...(code === undefined ? {} : { vendorCode: code }),
  });
}

/** The rejection of an `open()` aborted by its signal (the signal's own EarshotError if any). */
export function openAborted(signal: AbortSignal): EarshotError {
  const reason: unknown = signal.reason;
  if (EarshotError.isInstance(reason)) return reason;
  return new EarshotError('provider_error', 'opening the Google stream was aborted', {
    cause: reason,
    details: { provider: 'google', aborted: true },
  });
}
