import { createDeepgramProvider } from '@earshot/providers/deepgram';
import {
  type DeepgramEmulator,
  scriptedTranscriber,
  startDeepgramEmulator,
  TwilioCaller,
  until,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../../src/adapters/node.js';
import { decodeMulaw } from '../../src/audio/g711.js';
import { createOfflineResponder, type Responder } from '../../src/index.js';

// The reply loop on a phone call: what the caller says (scripted by the Deepgram emulator) is
// answered by the offline responder, and its speech (espeak-ng) is played into the call.
let emulator: DeepgramEmulator;
let server: RunningServer;
const asked: string[] = [];

beforeAll(async () => {
  emulator = await startDeepgramEmulator({
    transcriber: scriptedTranscriber([{ text: 'hello can you hear me', start: 0.3, end: 1.4 }]),
  });
  const offline = createOfflineResponder();
  const responder: Responder = {
    name: 'recording',
    respond: (request) => {
      asked.push(request.transcript);
      return offline.respond(request);
    },
  };
  server = await listen({
    provider: createDeepgramProvider({ apiKey: emulator.apiKey, baseUrl: emulator.endpoint }),
    port: 0,
    twilio: { reply: true },
    responder,
  });
});
afterAll(async () => {
  await server.close();
  await emulator.close();
});

describe('replies on a phone call', () => {
  it('answers what the caller said by playing the reply into the call', async () => {
    const caller = await TwilioCaller.connect({
      url: `${server.url.replace('http', 'ws')}/v1/twilio`,
    });
    await caller.streamAudio(new Uint8Array(8000 * 3).fill(0xff), { pace: 'fast' });
    await until(() => caller.received.some((f) => f.event === 'mark'), 15_000);
    expect(asked).toEqual(['hello can you hear me']);
    const played = Buffer.concat(
      caller.received.filter((f) => f.event === 'media').map((f) => f.payload ?? Buffer.alloc(0)),
    );
    // "Yes, I can hear you." spoken: about a second of μ-law that is not silence.
    expect(played.byteLength).toBeGreaterThan(8000 * 0.6);
    const samples = decodeMulaw(played);
    const rms = Math.sqrt(samples.reduce((sum, s) => sum + s * s, 0) / samples.length);
    expect(rms).toBeGreaterThan(300);
    await caller.stop();
  });
});
