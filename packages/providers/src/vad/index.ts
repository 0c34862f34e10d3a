export { type CutUtterancesOptions, cutUtterances, type Utterance } from './cut-utterances.js';
export {
  createSpeechSegmenter,
  type SpeechEndedEvent,
  type SpeechSegmenter,
  type SpeechSegmenterOptions,
  type SpeechStartedEvent,
  type VadEvent,
} from './speech-segmenter.js';
export {
  createVoiceActivityDetector,
  type VoiceActivityDetector,
  type VoiceActivityDetectorOptions,
} from './voice-activity-detector.js';
export {
  assertWebRtcVadSampleRate,
  createWebRtcVad,
  loadWebRtcVad,
  openWebRtcVadCount,
  WEBRTC_VAD_SAMPLE_RATES,
  type WebRtcVad,
  type WebRtcVadFrameMs,
  type WebRtcVadMode,
  type WebRtcVadOptions,
} from './webrtc-vad.js';
