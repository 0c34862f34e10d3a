/**
 * WebSocket close codes the server uses. Standard codes where one fits (RFC 6455 §7.4.1),
 * private-use codes (4000–4999) for Earshot's own reasons.
 */
export const CloseCode = {
  /** The session finished normally (after `stop`, or ended over REST). */
  Normal: 1000,
  /** The server is shutting down. Reconnect elsewhere. */
  GoingAway: 1001,
  /** The peer broke the protocol in a way that makes the session unsafe. */
  ProtocolError: 1002,
  /** The audio cannot be understood as the declared format, so the session cannot go on. */
  UnsupportedData: 1003,
  /** The peer broke a policy (auth, rate, origin). */
  PolicyViolation: 1008,
  /** A frame was too large. */
  MessageTooBig: 1009,
  /** The server failed unexpectedly. */
  InternalError: 1011,
  /** No capacity now; retry later with backoff. */
  TryAgainLater: 1013,
  /** The session was ended by the server's REST admin (`POST /v1/sessions/:id/end`). */
  SessionEnded: 4000,
  /** The provider failed and could not recover. */
  ProviderFailed: 4001,
  /** A newer connection resumed this session; this one is no longer its client. */
  Superseded: 4002,
  /** The client sent nothing useful for too long (no `start`, or idle). */
  Timeout: 4008,
} as const;

/** The union of every close code the server uses. */
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** One sentence per close code, used in generated docs. */
export const CLOSE_CODE_DESCRIPTIONS: Readonly<Record<CloseCode, string>> = {
  1000: 'The session finished normally (after `stop`, or ended over REST).',
  1001: 'The server is shutting down.',
  1002: 'The peer broke the protocol in a way that makes the session unsafe.',
  1003: 'The audio cannot be understood as the declared format.',
  1008: 'The peer broke a policy (auth, rate, origin).',
  1009: 'A frame was too large.',
  1011: 'The server failed unexpectedly.',
  1013: 'No capacity now; retry later with backoff.',
  4000: 'The session was ended by the server admin.',
  4001: 'The provider failed and could not recover.',
  4002: 'A newer connection resumed the session (start.resume); this one is no longer its client.',
  4008: 'The client sent nothing useful for too long.',
};
