import type { SessionLimits } from '@earshot/protocol';

/** Limits and timers of every session, all configurable with safe defaults. */
export interface SessionLimitOptions extends SessionLimits {
  /** Seconds a new connection may wait before sending `start`. */
  readonly startTimeoutSeconds: number;
  /** Bytes of audio accepted between `start` and the provider being ready. */
  readonly maxPendingAudioBytes: number;
  /** Seconds `stop` waits for the provider's last finals before giving up on them. */
  readonly stopTimeoutSeconds: number;
}

/** Defaults of {@link SessionLimitOptions}. */
export const DEFAULT_SESSION_LIMITS: SessionLimitOptions = Object.freeze({
  maxFrameBytes: 256 * 1024,
  maxSessionSeconds: 2 * 60 * 60,
  idleTimeoutSeconds: 60,
  startTimeoutSeconds: 30,
  maxPendingAudioBytes: 1024 * 1024,
  stopTimeoutSeconds: 30,
});
