/**
 * Every error Earshot reports carries one of these stable codes: on the wire (`error`
 * messages), in REST error bodies and on {@link EarshotError}. Codes are never renamed;
 * new ones may be added.
 */
export const ErrorCode = {
  /** A text frame was not valid JSON. */
  InvalidJson: 'invalid_json',
  /** A JSON message had a `type` the protocol does not know. */
  UnknownMessageType: 'unknown_message_type',
  /** A known message failed validation (missing or wrong fields). */
  InvalidMessage: 'invalid_message',
  /** Audio or a control message arrived before `start`. */
  NotStarted: 'not_started',
  /** `start` arrived on a session that is already started. */
  AlreadyStarted: 'already_started',
  /** The declared audio format is not one the server can take. */
  UnsupportedAudioFormat: 'unsupported_audio_format',
  /** Audio bytes do not match the declared format (e.g. odd-length PCM16). */
  InvalidAudio: 'invalid_audio',
  /** The server (or a provider) has no room for another session right now. */
  Capacity: 'capacity',
  /** The provider cannot be used: its engine or SDK is missing, or it is misconfigured. */
  ProviderUnavailable: 'provider_unavailable',
  /** The provider failed while streaming. */
  ProviderError: 'provider_error',
  /** Credentials were missing or wrong. */
  Unauthorized: 'unauthorized',
  /** The principal may not do this. */
  Forbidden: 'forbidden',
  /** No session has that id. */
  SessionNotFound: 'session_not_found',
  /** The session has ended; nothing more can be done on it. */
  SessionEnded: 'session_ended',
  /** A frame was larger than the server accepts. */
  FrameTooLarge: 'frame_too_large',
  /** Too many messages or bytes in too short a time. */
  RateLimited: 'rate_limited',
  /** Something waited too long (no `start`, no final, idle session). */
  Timeout: 'timeout',
  /** The store failed to read or write. */
  StoreError: 'store_error',
  /** The store cannot be reached: finals are held in memory and written when it is back. */
  StoreUnavailable: 'store_unavailable',
  /** A REST request was malformed. */
  InvalidRequest: 'invalid_request',
  /** A REST route does not exist. */
  NotFound: 'not_found',
  /** The client could not reach the server (network failure, refused connection). */
  ConnectionFailed: 'connection_failed',
  /** Audio sent during a dropped connection could not be sent again: the client's replay buffer overflowed. */
  AudioLost: 'audio_lost',
  /** The browser refused the microphone (the user or a policy said no). */
  MicrophoneDenied: 'microphone_denied',
  /** No microphone could be opened (none, busy, or the page cannot capture). */
  MicrophoneUnavailable: 'microphone_unavailable',
  /** The microphone went away mid-capture (unplugged, revoked). */
  MicrophoneLost: 'microphone_lost',
  /**
   * The server's audio decoder (an FFmpeg child process) failed. Non-fatal when it was started
   * again with the audio replayed; fatal when it kept failing.
   */
  AudioDecoderFailed: 'audio_decoder_failed',
  /** The cluster bus (Redis) or the node that runs the session cannot be reached right now. */
  ClusterUnavailable: 'cluster_unavailable',
  /** An unexpected failure inside Earshot. */
  Internal: 'internal',
} as const;

/** The union of every stable error code. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every error code, for schemas and docs. */
export const ERROR_CODES = Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]];

/** One sentence per code, used in generated docs. */
export const ERROR_CODE_DESCRIPTIONS: Readonly<Record<ErrorCode, string>> = {
  invalid_json: 'A text frame was not valid JSON. The session goes on.',
  unknown_message_type:
    'A JSON message had a `type` the protocol does not know. The session goes on.',
  invalid_message: 'A known message failed validation. The session goes on.',
  not_started: 'Audio or a control message arrived before `start`. The session goes on.',
  already_started: 'A second `start` arrived. The first one stays in force.',
  unsupported_audio_format:
    'The declared audio format is not accepted. The client may send another `start`.',
  invalid_audio: 'Audio bytes do not match the declared format.',
  capacity: 'No room for another session now; retry later (close code 1013).',
  provider_unavailable: 'The provider cannot be used here (engine or SDK missing, misconfigured).',
  provider_error: 'The provider failed while streaming.',
  unauthorized: 'Credentials were missing or wrong.',
  forbidden: 'The principal may not do this.',
  session_not_found: 'No session has that id.',
  session_ended: 'The session has ended.',
  frame_too_large: 'A frame was larger than the server accepts (close code 1009).',
  rate_limited: 'Too many messages or bytes in too short a time.',
  timeout: 'Something waited too long.',
  store_error: 'The store failed to read or write.',
  store_unavailable:
    'The store cannot be reached. Finals are still sent, held in memory and written when it is back; a final that could not be kept is reported with `store_error`. The session goes on.',
  invalid_request: 'A REST request was malformed.',
  not_found: 'The REST route does not exist.',
  connection_failed: 'The client could not reach the server (network failure, refused connection).',
  audio_lost:
    "Audio the server never received could not be sent again after a reconnect (the client's replay buffer overflowed). The session goes on.",
  microphone_denied:
    'The browser refused the microphone (the user or a policy said no). Client-side.',
  microphone_unavailable:
    'No microphone could be opened (none, busy, or the page is not https/localhost). Client-side.',
  microphone_lost: 'The microphone went away mid-capture (unplugged, revoked). Client-side.',
  audio_decoder_failed:
    "The server's audio decoder (an FFmpeg child process) failed. Non-fatal: it was started again and the audio it had not decoded was replayed, so the session goes on. Fatal: it kept failing; the session ends, its finals stored.",
  cluster_unavailable:
    'The cluster bus (Redis), or the node that runs the session, cannot be reached right now, so the request cannot be carried out; retry later (HTTP 503). Live sessions go on.',
  internal: 'An unexpected failure inside Earshot.',
};
