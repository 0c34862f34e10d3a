import { CloseCode, EarshotError, type ErrorCode } from '@earshot/protocol';

// Close codes the server documents, mapped to the error code a caller would branch on. A close
// without a `closed` message is always a failure; this only picks the most useful code for it.
const CLOSE_CODE_ERRORS: Readonly<Record<number, ErrorCode>> = {
  [CloseCode.Normal]: 'session_ended',
  [CloseCode.GoingAway]: 'session_ended',
  [CloseCode.ProtocolError]: 'invalid_message',
  [CloseCode.UnsupportedData]: 'invalid_audio',
  [CloseCode.PolicyViolation]: 'forbidden',
  [CloseCode.MessageTooBig]: 'frame_too_large',
  [CloseCode.InternalError]: 'internal',
  [CloseCode.TryAgainLater]: 'capacity',
  [CloseCode.SessionEnded]: 'session_ended',
  [CloseCode.ProviderFailed]: 'provider_error',
  [CloseCode.Timeout]: 'timeout',
};

/**
 * The error for a socket that closed before the server sent `closed`: the session is over and
 * the caller did not ask for it.
 */
export function errorFromClose(code: number, reason: string): EarshotError {
  const errorCode = CLOSE_CODE_ERRORS[code] ?? 'session_ended';
  const why = reason ? `: ${reason}` : '';
  return new EarshotError(errorCode, `connection closed unexpectedly (code ${code})${why}`, {
    fatal: true,
    details: { closeCode: code, closeReason: reason },
  });
}

// HTTP statuses a server answers the upgrade with when it refuses a socket (auth at the
// upgrade, capacity). `ws` reports them as "Unexpected server response: 401".
const HTTP_STATUS_ERRORS: Readonly<Record<number, ErrorCode>> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  429: 'rate_limited',
  503: 'capacity',
};

/**
 * The error for a socket that never opened. Browsers hide the cause (an `error` event carries
 * no message), Node's `ws` gives the system error (`ECONNREFUSED`) or the HTTP status.
 *
 * A network failure is `connection_failed`; a refusal by HTTP status gets that status's code.
 */
export function errorFromConnectFailure(url: string, cause: unknown): EarshotError {
  const message = causeMessage(cause);
  const status = /Unexpected server response: (\d{3})/.exec(message)?.[1];
  const statusCode = status === undefined ? undefined : Number(status);
  const code = (statusCode !== undefined && HTTP_STATUS_ERRORS[statusCode]) || 'connection_failed';
  return new EarshotError(
    code,
    `cannot connect to ${redactToken(url)}${message ? `: ${message}` : ''}`,
    {
      cause,
      fatal: true,
      details: { reason: 'connection_failed', ...(statusCode ? { httpStatus: statusCode } : {}) },
    },
  );
}

function causeMessage(cause: unknown): string {
  if (cause instanceof Error) {
    // Node's AggregateError (IPv4 + IPv6 both refused) has an empty message of its own.
    if (cause.message) return cause.message;
    const inner = (cause as { errors?: unknown[] }).errors?.[0];
    if (inner instanceof Error) return inner.message;
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? code : '';
  }
  if (typeof cause === 'object' && cause !== null) {
    const { message, error } = cause as { message?: unknown; error?: unknown };
    if (error instanceof Error) return causeMessage(error);
    if (typeof message === 'string') return message;
  }
  return '';
}

/** The URL with its `token` query parameter hidden, for messages and logs. */
export function redactToken(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/, '$1***');
}
