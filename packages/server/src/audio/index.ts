export {
  type CutUtterancesOptions,
  createVoiceActivityDetector,
  cutUtterances,
  type SpeechEndedEvent,
  type SpeechStartedEvent,
  type Utterance,
  type VadEvent,
  type VoiceActivityDetector,
  type VoiceActivityDetectorOptions,
  type WebRtcVadFrameMs,
  type WebRtcVadMode,
} from '@earshot/providers/vad';
export { AudioPipeline, type AudioPipelineOptions } from './audio-pipeline.js';
export type { AudioSink, AudioStage, AudioStageFactory } from './audio-stage.js';
export { decodeAlaw, decodeMulaw, encodeAlaw, encodeMulaw } from './g711.js';
export { createOpusStage, type OpusDecoderKind, type OpusStageOptions } from './opus/index.js';
export { downmixStereo, Pcm16Framer, pcm16FromBytes, pcm16ToBytes, upmixMono } from './pcm16.js';
export {
  describePlan,
  OPUS_DECODE_RATE,
  type PipelinePlan,
  type PipelineStep,
  planPipeline,
} from './pipeline-plan.js';
export type { StageOptions } from './pipeline-stages.js';
export {
  createResampler,
  type Resampler,
  type ResamplerOptions,
  type ResamplerQuality,
} from './resampler.js';
