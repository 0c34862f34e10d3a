import { EarshotError } from '@earshot/protocol';

/**
 * The error a responder rejects with when its request's signal aborts (the session ended, or
 * the caller spoke over the reply): an `EarshotError` named `AbortError`, so callers that
 * skip aborts by name (`error.name === 'AbortError'`) skip it too. `details.aborted` is true
 * and `cause` is the signal's reason.
 */
export function replyAborted(signal: AbortSignal): EarshotError {
  const error = new EarshotError('provider_error', 'the reply was aborted', {
    cause: signal.reason,
    details: { aborted: true },
  });
  error.name = 'AbortError';
  return error;
}

/**
 * Runs `work` with a signal that aborts when `signal` does or after `timeoutMs`, and settles
 * the way a responder must: {@link replyAborted} when the caller aborted, a `timeout`
 * `EarshotError` when the deadline passed, else what `work` did. Its timer and listener are
 * gone when it settles, so a reply leaves nothing running.
 *
 * @param what - What is waited for, for the timeout message (`the reply`, `espeak-ng`).
 */
export async function withinReplyDeadline<T>(
  signal: AbortSignal,
  timeoutMs: number,
  what: string,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  if (signal.aborted) throw replyAborted(signal);
  const controller = new AbortController();
  const timeout = new EarshotError('timeout', `${what} took longer than ${timeoutMs} ms`);
  const timer = setTimeout(() => controller.abort(timeout), timeoutMs);
  const forward = () => controller.abort(signal.reason);
  signal.addEventListener('abort', forward, { once: true });
  try {
    return await work(controller.signal);
  } catch (error) {
    // Whatever `work` threw once its signal fired (an SDK's abort error, a killed child's
    // exit) is only the echo of that abort: report why it was aborted instead.
    if (signal.aborted) throw replyAborted(signal);
    if (controller.signal.aborted) throw timeout;
    throw error;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', forward);
  }
}
