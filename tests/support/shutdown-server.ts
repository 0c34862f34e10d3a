// A server process for the graceful-shutdown tests (tests/e2e/graceful-shutdown.test.ts): an
// SQLite store, SIGTERM handled by shutdownOnSignals, and one of two providers: the local
// engine, or a Deepgram emulator (in this process) that stops answering mid-utterance and
// never answers the flush. Its argument is a JSON ShutdownServerConfig. It prints one JSON
// line with its URL once it listens, then its log as JSON lines on stdout.
import { createInterface } from 'node:readline';
import type { Logger } from '@earshot/protocol';
import type { SttProvider } from '@earshot/providers';
import { createDeepgramProvider } from '@earshot/providers/deepgram';
import { createLocalProvider } from '@earshot/providers/local';
import { createSqliteStore, type EarshotServerOptions } from '@earshot/server';
import { listen, shutdownOnSignals } from '@earshot/server/node';
import { scriptedTranscriber, startDeepgramEmulator } from '@earshot/testing';

/** What the test asks of the process. */
export interface ShutdownServerConfig {
  /** `local`: PocketSphinx. `stalled-deepgram`: an emulator that stops answering (see below). */
  readonly provider: 'local' | 'stalled-deepgram';
  /** The SQLite file of the store. */
  readonly storePath: string;
  /** `shutdownOnSignals`' deadline. */
  readonly deadlineMs: number;
  /** `limits.stopTimeoutSeconds`: how long a session's end waits for its provider's flush. */
  readonly stopTimeoutSeconds?: number;
  /**
   * Every session's end hook waits for a line on stdin, so the server stays draining (after
   * its sessions have ended, before it exits) until the test has looked at it.
   */
  readonly holdEndHook?: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ShutdownServerConfig;

const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const log =
  (level: string) =>
  (obj: Record<string, unknown>, msg?: string): void => {
    const err = obj.err instanceof Error ? obj.err.message : obj.err;
    print({ level, msg, ...obj, ...(err === undefined ? {} : { err }) });
  };
const logger: Logger = {
  debug: () => {},
  info: log('info'),
  warn: log('warn'),
  error: log('error'),
};

let released: Promise<void> | undefined;
if (config.holdEndHook) {
  const lines = createInterface({ input: process.stdin });
  released = new Promise((resolve) => lines.once('line', () => resolve()));
}

let provider: SttProvider;
let extra: Partial<EarshotServerOptions> = {};
if (config.provider === 'local') {
  provider = createLocalProvider({ maxConcurrentStreams: 1 });
} else {
  // One utterance over the first four seconds: an interim at its middle (2 s), then silence
  // from the vendor from 2.5 s on. `CloseStream` is never answered, and nothing below gives
  // up on it sooner than the server's own limits: no Deepgram close timeout to speak of, no
  // resilient layer (its final timeout would), no idle timeout on the emulator.
  const emulator = await startDeepgramEmulator({
    transcriber: scriptedTranscriber([{ text: 'the flush never comes', start: 0.2, end: 4 }]),
  });
  emulator.faults.stallAfterAudioSeconds = 2.5;
  emulator.faults.idleTimeoutSeconds = 3600;
  provider = createDeepgramProvider({
    apiKey: emulator.apiKey,
    baseUrl: emulator.endpoint,
    closeTimeoutMs: 3_600_000,
  });
  extra = { resilience: false };
}

const store = await createSqliteStore({ path: config.storePath });
const server = await listen({
  provider,
  store,
  port: 0,
  logger,
  metrics: false,
  openTelemetry: false,
  limits: config.stopTimeoutSeconds ? { stopTimeoutSeconds: config.stopTimeoutSeconds } : {},
  ...(released
    ? {
        onSessionEnd: {
          handler: async () => {
            logger.info({}, 'end hook waiting');
            await released;
          },
          retries: 0,
          timeoutMs: 60_000,
        },
      }
    : {}),
  ...extra,
});
shutdownOnSignals(
  async () => {
    await server.close();
    await store.close();
  },
  { deadlineMs: config.deadlineMs, logger },
);
print({ url: server.url });
