export {
  type AudioSource,
  listMicrophones,
  type MicrophoneInfo,
  type MicrophoneOptions,
  openMicrophone,
} from './audio-source.js';
export { createOpusMicrophone, type OpusMicrophoneOptions } from './opus-microphone.js';
export { createPcmMicrophone, type PcmMicrophoneOptions } from './pcm-microphone.js';
export { PCM_WORKLET_SOURCE } from './pcm-worklet-source.js';
export { type MicrophoneStream, streamMicrophone } from './stream-microphone.js';
