export { type ReadAudioFileOptions, readAudioFile } from './read-audio-file.js';
export {
  type Pace,
  type StreamAudioOptions,
  type StreamAudioResult,
  streamAudio,
  streamFile,
  streamReadable,
} from './stream-audio.js';
export {
  type TranscribeFileOptions,
  type TranscribeFileResult,
  transcribeFile,
} from './transcribe-file.js';
export { type AudioData, isWav, parseWav } from './wav.js';
