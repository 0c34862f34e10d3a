export {
  createOpenAIProvider,
  OPENAI_DEFAULT_MODEL,
  type OpenAIProvider,
  type OpenAIProviderSettings,
} from './openai-provider.js';
export type { OpenAITurnDetection } from './openai-wire.js';
