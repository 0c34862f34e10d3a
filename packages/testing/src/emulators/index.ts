export * from './deepgram-emulator.js';
export {
  EMULATOR_API_KEY,
  type Emulator,
  type EmulatorConnection,
  type EmulatorOptions,
} from './emulator.js';
export { type AudioFault, AudioFaultClock, type EmulatorFaults, takeRefusal } from './faults.js';
export * from './google-emulator.js';
export * from './openai-batch-emulator.js';
export * from './openai-chat-emulator.js';
export * from './openai-emulator.js';
export { loopbackCertificate, type TlsCredentials } from './tls.js';
export {
  bytesPerSecond,
  type EmulatorAudioFormat,
  type ScriptedTranscriberOptions,
  type ScriptedUtterance,
  STAMP_SECONDS,
  type StampedAudioOptions,
  scriptedTranscriber,
  stampedAudio,
  type TranscribedUtterance,
  type TranscribedWord,
  type Transcriber,
  type TranscriberEvents,
  type TranscriberSession,
} from './transcriber.js';
export {
  startWsEmulatorServer,
  type UpgradeRefusal,
  type WsEmulatorServer,
  type WsEmulatorServerOptions,
} from './ws-emulator-server.js';
