export { assertAcceptedFormat } from './accepted-format.js';
export {
  type ErrorClass,
  type OpenAIErrorClasses,
  type OpenAIRequestFailureOptions,
  type OpenAIRequestPhase,
  openAIRequestFailure,
} from './openai-request-failure.js';
export { loadOptionalSdk } from './optional-sdk.js';
export {
  failureKindForHttpStatus,
  failureKindOf,
  isRetryableFailure,
  type ProviderFailureKind,
  type ProviderFailureOptions,
  providerFailure,
} from './provider-failure.js';
export { ProviderStream } from './provider-stream.js';
export { SegmentSequencer, type SequencedResult } from './segment-sequencer.js';
