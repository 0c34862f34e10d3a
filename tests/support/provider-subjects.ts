import type { SttProvider } from '@earshot/providers';
import { createDeepgramProvider } from '@earshot/providers/deepgram';
import { createGoogleProvider } from '@earshot/providers/google';
import { createOpenAIProvider } from '@earshot/providers/openai';
import { createOpenAIBatchProvider } from '@earshot/providers/openai-batch';
import { createResilientProvider } from '@earshot/providers/resilient';
import {
  type Emulator,
  startDeepgramEmulator,
  startGoogleEmulator,
  startOpenAIBatchEmulator,
  startOpenAIEmulator,
} from '@earshot/testing';
import type { ContractProvider, ProviderContractSubject } from '@earshot/testing/contract';

// A port nothing listens on: the discard port on loopback is never served here.
const UNREACHABLE_PORT = 9;

const resilient: ProviderContractSubject['resilient'] = (primary, options) =>
  createResilientProvider(primary as SttProvider, {
    ...(options.fallbacks ? { fallbacks: options.fallbacks as SttProvider[] } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
  }) as ContractProvider;

const asContract = (provider: SttProvider) => provider as unknown as ContractProvider;

/**
 * The streaming cloud providers as the contract kit, the speech tests and the latency bench
 * drive them: the real vendor SDK, pointed at that vendor's emulator on loopback.
 */
export const streamingSubjects: readonly ProviderContractSubject[] = [
  {
    name: 'deepgram',
    audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
    startEmulator: (o) => startDeepgramEmulator(o),
    createProvider: (e: Emulator, { apiKey }) =>
      asContract(createDeepgramProvider({ apiKey, baseUrl: e.endpoint })),
    createUnreachableProvider: () =>
      asContract(
        createDeepgramProvider({ apiKey: 'k', baseUrl: `ws://127.0.0.1:${UNREACHABLE_PORT}` }),
      ),
    vendorErrorClose: {
      code: 1011,
      reason: 'Deepgram did not provide a response message within the timeout window.',
    },
    resilient,
  },
  {
    name: 'openai',
    audio: { encoding: 'pcm16', sampleRate: 24000, channels: 1 },
    startEmulator: (o) => startOpenAIEmulator(o),
    createProvider: (e: Emulator, { apiKey }) =>
      asContract(createOpenAIProvider({ apiKey, baseURL: e.endpoint, ca: e.ca })),
    createUnreachableProvider: () =>
      asContract(
        createOpenAIProvider({ apiKey: 'k', baseURL: `https://127.0.0.1:${UNREACHABLE_PORT}/v1` }),
      ),
    vendorErrorClose: { code: 1011, reason: 'internal server error' },
    resilient,
  },
  {
    name: 'google',
    audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
    startEmulator: (o) => startGoogleEmulator(o),
    createProvider: (e: Emulator, { apiKey }) =>
      asContract(createGoogleProvider({ apiKey, endpoint: e.endpoint, insecure: true })),
    createUnreachableProvider: () =>
      asContract(
        createGoogleProvider({
          apiKey: 'k',
          endpoint: `127.0.0.1:${UNREACHABLE_PORT}`,
          insecure: true,
        }),
      ),
    vendorErrorClose: { code: 13, reason: 'Internal error encountered.' },
    resilient,
  },
];

/**
 * OpenAI's batch API behind the VAD: one request per utterance the VAD hears (the contract's
 * audio is voiced where its script speaks).
 */
export const batchSubject: ProviderContractSubject = {
  name: 'openai-batch',
  audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
  startEmulator: (o) => startOpenAIBatchEmulator(o),
  createProvider: (e: Emulator, { apiKey }) =>
    asContract(createOpenAIBatchProvider({ apiKey, baseURL: e.endpoint })),
  createUnreachableProvider: () =>
    asContract(
      createOpenAIBatchProvider({
        apiKey: 'k',
        baseURL: `http://127.0.0.1:${UNREACHABLE_PORT}/v1`,
      }),
    ),
  vendorErrorClose: { code: 500, reason: 'The server had an error' },
  resilient,
  batch: true,
};

/** Every cloud provider. */
export const allSubjects: readonly ProviderContractSubject[] = [...streamingSubjects, batchSubject];
