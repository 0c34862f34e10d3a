export {
  type AudioFormat,
  type ClosedMessage,
  EarshotError,
  ErrorCode,
  type Logger,
  type ReadyMessage,
  type SessionInfoMessage,
  type SessionSummary,
  type TranscriptMessage,
  type Word,
} from '@earshot/protocol';
export { CLIENT_STATES, type ClientState } from './client-state.js';
export {
  type CloseInfo,
  EarshotClient,
  type EarshotClientEvents,
  type EarshotClientOptions,
  type StartOptions,
  type TokenSource,
  type WebSocketConstructor,
} from './earshot-client.js';
export { type ReconnectOptions, reconnectDelayMs } from './reconnect-policy.js';
export type { TranscriptIteratorOptions } from './transcript-iterator.js';
export { CLIENT_VERSION } from './version.js';
