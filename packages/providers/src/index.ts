export {
  assertAcceptedFormat,
  failureKindForHttpStatus,
  failureKindOf,
  isRetryableFailure,
  loadOptionalSdk,
  type ProviderFailureKind,
  type ProviderFailureOptions,
  ProviderStream,
  providerFailure,
  SegmentSequencer,
  type SequencedResult,
} from './shared/index.js';
export type {
  ProviderCapabilities,
  ProviderTranscript,
  SttProvider,
  SttStream,
  SttStreamEvents,
  SttStreamOptions,
} from './stt-provider.js';
