export {
  createDeepgramProvider,
  type DeepgramProvider,
  type DeepgramProviderSettings,
  type DeepgramQueryValue,
} from './deepgram-provider.js';
