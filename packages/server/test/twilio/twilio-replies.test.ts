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
const aborted: string[] = [];
let holdReplies = false;

beforeAll(async () => {
  emulator = await startDeepgramEmulator({
    transcriber: scriptedTranscriber([
      { text: 'hello can you hear me', start: 0.3, end: 1.4 },
      { text: 'never mind that', start: 5.0, end: 5.8 },
    ]),
  });
  const offline = createOfflineResponder();
  const responder: Responder = {
    name: 'recording',
    respond: async (request) => {
      asked.push(request.transcript);
      // Held for the barge-in test: answered only if the caller does not speak over it.
      if (holdReplies) {
        await new Promise((resolve, reject) => {
          request.signal.addEventListener('abort', () => {
            aborted.push(request.transcript);
            reject(request.signal.reason);
          });
          setTimeout(resolve, 10_000).unref();
        });
      }
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
    asked.length = 0;
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

  it('cancels a reply still being written when the caller speaks over it (barge-in)', async () => {
    holdReplies = true;
    try {
      const caller = await TwilioCaller.connect({
        url: `${server.url.replace('http', 'ws')}/v1/twilio`,
      });
      // At the pace of a call, so the second utterance begins while the first is answered.
      await caller.streamAudio(new Uint8Array(8000 * 6.5).fill(0xff));
      await until(() => asked.length === 2, 10_000);
      expect(asked).toEqual(['hello can you hear me', 'never mind that']);
      expect(aborted).toEqual(['hello can you hear me']);
      await caller.stop();
    } finally {
      holdReplies = false;
    }
  }, 30_000);
});
