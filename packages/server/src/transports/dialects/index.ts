export {
  type AmbientDialectOptions,
  ambientDialect,
  ambientOptionsFromEnv,
} from './ambient-dialect.js';
export type { ConversationResolver } from './conversation-admission.js';
export { type ConversationDialectOptions, conversationDialect } from './conversation-dialect.js';
export type { Dialect, DialectEndpoint, DialectHost } from './dialect.js';
export {
  asRecord,
  DIALECT_ID,
  type DialectFrameHandlers,
  DialectSocket,
  type DialectStreamOptions,
  type DialectTranslation,
  startTransportSession,
} from './dialect-socket.js';
export { sniffAudioFormat } from './sniff-audio.js';
export { type SttStreamDialectOptions, sttStreamDialect } from './stt-stream-dialect.js';
export {
  type CollectedUtterance,
  UtteranceCollector,
  type UtteranceCollectorOptions,
} from './utterance-collector.js';
export { type VoiceAgentDialectOptions, voiceAgentDialect } from './voice-agent-dialect.js';
