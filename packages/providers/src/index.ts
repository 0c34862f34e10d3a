export type {
  ProviderCapabilities,
  ProviderTranscript,
  SttProvider,
  SttStream,
  SttStreamEvents,
  SttStreamOptions,
} from './stt-provider.js';
