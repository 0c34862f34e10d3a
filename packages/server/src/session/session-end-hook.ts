import type { Logger, Metadata, SessionSummary } from '@earshot/protocol';
import type { StoredSegment } from '../stores/store.js';
import type { SessionMetrics } from './session-metrics.js';

/** What the `onSessionEnd` hook is given: the whole session, once it has ended. */
export interface EndedSession {
  readonly sessionId: string;
  readonly metadata: Metadata;
  /** Why it ended (`stopped`, `ended`, `timeout`, `error`, `shutdown`, `disconnected`). */
  readonly reason: string;
  /** Every final's text, joined with spaces. */
  readonly transcript: string;
  /** Every final, in order. */
  readonly segments: readonly StoredSegment[];
  readonly summary: SessionSummary;
  readonly metrics: SessionMetrics;
}

/** A function run when a session ends; what it resolves is stored with the session. */
export type SessionEndHandler = (session: EndedSession, signal: AbortSignal) => unknown;

/** The `onSessionEnd` option: a handler, or a handler with its retry policy. */
export type SessionEndHook =
  | SessionEndHandler
  | {
      readonly handler: SessionEndHandler;
      /** Attempts after the first failure. Default 3. */
      readonly retries?: number;
      /** Wait before the first retry, in ms, doubling each time. Default 1000. */
      readonly backoffMs?: number;
      /** An attempt that takes longer is aborted (its signal fires) and counts as failed. Default 30 000. */
      readonly timeoutMs?: number;
    };

/** What became of the hook, as stored in the session's `session_end_hook` event. */
export type SessionEndHookOutcome =
  | { readonly ok: true; readonly attempts: number; readonly result: unknown }
  | { readonly ok: false; readonly attempts: number; readonly error: string };

/**
 * Runs the hook with retries: each attempt under a timeout (its `AbortSignal` fires when it
 * expires), failures retried with doubling backoff. Never rejects: the outcome says how it went.
 */
export async function runSessionEndHook(
  hook: SessionEndHook,
  session: EndedSession,
  logger: Logger,
): Promise<SessionEndHookOutcome> {
  const {
    handler,
    retries = 3,
    backoffMs = 1000,
    timeoutMs = 30_000,
  } = typeof hook === 'function' ? { handler: hook } : hook;
  let lastError = '';
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(new Error(`timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      });
      const result = await Promise.race([
        Promise.resolve().then(() => handler(session, controller.signal)),
        timedOut,
      ]);
      return { ok: true, attempts: attempt, result: toJson(result) };
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
      logger.warn(
        { sessionId: session.sessionId, attempt, err: error },
        'onSessionEnd hook failed',
      );
    } finally {
      clearTimeout(timer);
    }
    if (attempt <= retries) {
      await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (attempt - 1)));
    }
  }
  return { ok: false, attempts: retries + 1, error: lastError };
}

// What the hook resolves is stored as JSON: undefined becomes null, anything unserialisable
// is stored as its text.
function toJson(value: unknown): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return String(value);
  }
}
