export {
  createOpenAIBatchProvider,
  type OpenAIBatchProvider,
  type OpenAIBatchProviderSettings,
} from './openai-batch-provider.js';
