export {
  createGoogleProvider,
  GOOGLE_DEFAULT_ENDPOINT,
  GOOGLE_DEFAULT_MAX_STREAM_SECONDS,
  GOOGLE_IDLE_TIMEOUT_SECONDS,
  GOOGLE_STREAM_LIMIT_SECONDS,
  type GoogleProvider,
  type GoogleProviderSettings,
} from './google-provider.js';
export { GOOGLE_MAX_REQUEST_AUDIO_BYTES } from './google-stream.js';
export type { GoogleSpeechContext } from './google-wire.js';
