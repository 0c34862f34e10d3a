import { EarshotError } from '@earshot/protocol';
import {
  failureKindForHttpStatus,
  type ProviderFailureKind,
  providerFailure,
} from '../shared/provider-failure.js';

const provider = 'deepgram';

/**
 * Why a connection attempt failed, from the error the SDK reported (`ws` says
 * `Unexpected server response: 401` for a refused upgrade; the SDK says `TIMEOUT` when its
 * connect timer fires; anything else is the network).
 */
export function openFailure(error: Error | undefined): EarshotError {
  const message = error?.message ?? 'the connection closed before it opened';
  const status = /Unexpected server response: (\d{3})/.exec(message)?.[1];
  if (status !== undefined) {
    const code = Number(status);
    const kind = failureKindForHttpStatus(code);
    const why =
      kind === 'auth'
        ? 'refused the API key'
        : kind === 'rejected'
          ? 'refused the stream options'
          : 'refused the connection';
    return providerFailure(kind, `Deepgram ${why} (HTTP ${code})`, {
      cause: error,
      vendorCode: code,
      provider,
    });
  }
  return providerFailure('unreachable', `Deepgram could not be reached: ${message}`, {
    cause: error,
    provider,
  });
}

/** An error the SDK threw before connecting (its own option checks, e.g. keywords on Nova-3). */
export function connectFailure(error: unknown): EarshotError {
  const message = error instanceof Error ? error.message : String(error);
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return providerFailure(
    typeof status === 'number' ? failureKindForHttpStatus(status) : 'rejected',
    `Deepgram refused the stream options: ${message}`,
    { cause: error, ...(typeof status === 'number' ? { vendorCode: status } : {}), provider },
  );
}

/**
 * The failure a close the provider did not ask for means. Deepgram closes with 1011 and a
 * reason naming its error: NET-0001 (no audio or message for ~10 s) and NET-0000 (no response
 * in time) are timeouts; 1008 (DATA-0000) is audio it cannot decode; 1006 is a dropped socket.
 */
export function closeFailure(code: number, reason: string, cause?: Error): EarshotError {
  const kind = closeKind(code, reason);
  const detail = reason === '' ? '' : `: ${reason}`;
  return providerFailure(kind, `Deepgram closed the stream (${code})${detail}`, {
    cause,
    vendorCode: code,
    provider,
  });
}

function closeKind(code: number, reason: string): ProviderFailureKind {
  if (/NET-000[01]|net000[01]|within the timeout window/i.test(reason)) return 'timeout';
  if (/stream limit|maximum (stream )?duration/i.test(reason)) return 'stream-limit';
  if (code === 1008 || /DATA-0000/i.test(reason)) return 'rejected';
  return 'dropped';
}

/** A message that failed its schema: reported, not fatal (one bad message ends nothing). */
export function invalidMessage(problem: string, message: unknown): EarshotError {
  return new EarshotError(
    'provider_error',
    `Deepgram sent a message Earshot cannot read: ${problem}`,
    {
      fatal: false,
      details: { provider, message },
    },
  );
}

/** What `open()` rejects with when its `AbortSignal` fires. */
export function openAborted(signal: AbortSignal): EarshotError {
  const reason: unknown = signal.reason;
  if (EarshotError.isInstance(reason)) return reason;
  return new EarshotError('provider_error', 'opening the Deepgram stream was aborted', {
    cause: reason,
    details: { provider, aborted: true },
  });
}
