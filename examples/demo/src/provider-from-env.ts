import type { SttProvider } from '@earshot/providers';

/** The providers the demo can run, by `EARSHOT_PROVIDER`. */
export const DEMO_PROVIDERS = ['local', 'deepgram', 'openai', 'openai-batch', 'google'] as const;

/**
 * The demo's provider from the environment: `EARSHOT_PROVIDER` picks it (`local`, the
 * default, needs no key); each cloud provider reads its own variables (`DEEPGRAM_API_KEY` /
 * `DEEPGRAM_URL`, `OPENAI_API_KEY` / `OPENAI_BASE_URL`, `GOOGLE_SPEECH_ENDPOINT` with
 * `GOOGLE_SPEECH_INSECURE=1` for a local emulator, otherwise Google's own credentials). TLS to a
 * local emulator is trusted with `NODE_EXTRA_CA_CERTS`. Returns `undefined` for `local`, which
 * the demo builds itself. Only the chosen provider's SDK is loaded.
 */
export async function providerFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Promise<SttProvider | undefined> {
  const name = env.EARSHOT_PROVIDER ?? 'local';
  switch (name) {
    case 'local':
      return undefined;
    case 'deepgram': {
      const { createDeepgramProvider } = await import('@earshot/providers/deepgram');
      return createDeepgramProvider();
    }
    case 'openai': {
      const { createOpenAIProvider } = await import('@earshot/providers/openai');
      return createOpenAIProvider();
    }
    case 'openai-batch': {
      const { createOpenAIBatchProvider } = await import('@earshot/providers/openai-batch');
      return createOpenAIBatchProvider();
    }
    case 'google': {
      const { createGoogleProvider } = await import('@earshot/providers/google');
      return createGoogleProvider();
    }
    default:
      throw new Error(`EARSHOT_PROVIDER=${name} is not one of ${DEMO_PROVIDERS.join(', ')}`);
  }
}
