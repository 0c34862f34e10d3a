import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GoogleEmulator, startGoogleEmulator } from './google-emulator.js';
import { scriptedTranscriber } from './transcriber.js';

// The real SDK, pointed at the emulator as the protocol digest describes: insecure channel
// credentials from the SDK's own google-gax grpc-js, the key as metadata.
const here = createRequire(import.meta.url);
const speechMain = here.resolve('@google-cloud/speech');
const { grpc } = createRequire(speechMain)('google-gax') as {
  grpc: { credentials: { createInsecure(): unknown } };
};
const speech = (await import('@google-cloud/speech')).v1;

interface Outcome {
  readonly responses: unknown[];
  readonly error?: { code?: number; details?: string };
}

let emulator: GoogleEmulator;
let client: InstanceType<typeof speech.SpeechClient>;
beforeAll(async () => {
  emulator = await startGoogleEmulator({
    transcriber: scriptedTranscriber([{ text: 'hello world', start: 0.1, end: 0.5 }]),
  });
  client = new speech.SpeechClient({
    apiEndpoint: '127.0.0.1',
    port: emulator.port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  } as ConstructorParameters<typeof speech.SpeechClient>[0]);
});
afterAll(async () => {
  await client.close();
  await emulator.close();
});

/** Runs one StreamingRecognize call with these requests, then half-closes. */
function call(requests: readonly object[], key: string | null = 'test-key'): Promise<Outcome> {
  const stream = client._streamingRecognize(
    key === null ? {} : { otherArgs: { headers: { 'x-goog-api-key': key } } },
  );
  const responses: unknown[] = [];
  return new Promise((resolve) => {
    stream.on('data', (r: unknown) => responses.push(r));
    stream.on('error', (error: { code?: number; details?: string }) =>
      resolve({ responses, error }),
    );
    stream.on('end', () => resolve({ responses }));
    for (const request of requests) stream.write(request);
    stream.end();
  });
}

const config = {
  streamingConfig: {
    config: { encoding: 'LINEAR16', sampleRateHertz: 16000, languageCode: 'en-US' },
    interimResults: true,
  },
};

describe('google emulator: StreamingRecognize as the real service answers it', () => {
  it('answers results with stability, is_final and result_end_time as int64-string Durations', async () => {
    const audio = { audioContent: Buffer.alloc(16_000) };
    const outcome = await call([config, audio, audio]);
    expect(outcome.error).toBeUndefined();
    expect(outcome.responses).toMatchObject([
      { results: [{ isFinal: false, alternatives: [{ transcript: 'hello' }] }] },
      {
        results: [
          {
            isFinal: true,
            alternatives: [{ transcript: 'hello world' }],
            resultEndTime: { seconds: '0', nanos: 500_000_000 },
          },
        ],
      },
    ]);
    expect(emulator.connections.at(-1)?.closed).toEqual({ code: 0, reason: 'OK' });
  });

  it('requires streaming_config first (INVALID_ARGUMENT otherwise)', async () => {
    const outcome = await call([{ audioContent: Buffer.alloc(3200) }]);
    expect(outcome.error?.code).toBe(3);
  });

  it('refuses a request carrying more than 25 KB of audio (INVALID_ARGUMENT)', async () => {
    const outcome = await call([config, { audioContent: Buffer.alloc(25_002) }]);
    expect(outcome.error?.code).toBe(3);
    expect(outcome.error?.details).toMatch(/25 KB/);
  });

  it('refuses a missing or wrong x-goog-api-key (UNAUTHENTICATED)', async () => {
    expect((await call([config], null)).error?.code).toBe(16);
    expect((await call([config], 'nope')).error?.details).toMatch(/API key not valid/);
  });

  it('answers the other Speech RPCs with UNIMPLEMENTED', async () => {
    const error = await client
      .recognize({ config: { languageCode: 'en-US' }, audio: { content: Buffer.alloc(10) } })
      .then(
        () => undefined,
        (e: { code?: number }) => e,
      );
    expect(error?.code).toBe(12);
  });
});
