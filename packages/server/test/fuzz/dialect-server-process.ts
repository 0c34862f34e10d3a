import { createDeepgramProvider } from '@earshot/providers/deepgram';
import { scriptedTranscriber, startDeepgramEmulator } from '@earshot/testing';
import { listen } from '../../src/adapters/node.js';
import { ambientDialect, sttStreamDialect, voiceAgentDialect } from '../../src/index.js';

// A server with the dialects in a process of its own, with nothing to catch what its handlers
// throw: for tests of frames that may crash it (dialect-crash-frames.test.ts). It prints its
// URL, then serves until it is killed (or dies).
const emulator = await startDeepgramEmulator({ transcriber: scriptedTranscriber([]) });
const server = await listen({
  provider: createDeepgramProvider({ apiKey: emulator.apiKey, baseUrl: emulator.endpoint }),
  port: 0,
  dialects: [ambientDialect(), sttStreamDialect(), voiceAgentDialect()],
  metrics: false,
  openTelemetry: false,
});
process.stdout.write(`${server.url}\n`);
