import type { SessionLimits } from '@earshot/protocol';

/** Limits and timers of every session, all configurable with safe defaults. */
export interface SessionLimitOptions extends SessionLimits {
  /** Seconds a new connection may wait before sending `start`. */
  readonly startTimeoutSeconds: number;
  /** Bytes of audio accepted between `start` and the provider being ready. */
  readonly maxPendingAudioBytes: number;
  /** Seconds `stop` waits for the provider's last finals before giving up on them. */
  readonly stopTimeoutSeconds: number;
  /**
   * Seconds a session outlives a connection that dropped without `stop`, waiting for the
   * client to resume it (`start.resume`): finals and the audio since the last final are kept;
   * the provider connection closes meanwhile and opens again when audio comes back.
   * 0 ends the session with its connection.
   */
  readonly resumeGraceSeconds: number;
  /**
   * How many times faster than real time audio may arrive, after `realtimeBurstSeconds`: audio
   * beyond it is dropped with a `rate_limited` error (a provider bills by the audio second).
   * Containers (WebM/Ogg), whose duration is not known from their size, are not metered.
   */
  readonly maxRealtimeFactor: number;
  /** Seconds of audio that may arrive at any speed (a first chunk, a replay after a resume). */
  readonly realtimeBurstSeconds: number;
}

/** Defaults of {@link SessionLimitOptions}. */
export const DEFAULT_SESSION_LIMITS: SessionLimitOptions = Object.freeze({
  maxFrameBytes: 256 * 1024,
  maxSessionSeconds: 2 * 60 * 60,
  idleTimeoutSeconds: 60,
  startTimeoutSeconds: 30,
  maxPendingAudioBytes: 1024 * 1024,
  stopTimeoutSeconds: 30,
  resumeGraceSeconds: 30,
  maxRealtimeFactor: 10,
  realtimeBurstSeconds: 60,
});
