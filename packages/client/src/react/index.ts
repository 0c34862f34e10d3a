export {
  type Transcription,
  type TranscriptionStatus,
  type UseTranscriptionOptions,
  useTranscription,
} from './use-transcription.js';
