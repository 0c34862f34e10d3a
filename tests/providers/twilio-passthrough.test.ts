import type { SttProvider } from '@earshot/providers';
import { listen } from '@earshot/server/node';
import { scriptedTranscriber, TwilioCaller, until } from '@earshot/testing';
import { describe, expect, it } from 'vitest';
import { streamingSubjects } from '../support/provider-subjects.js';

// A phone call's μ-law reaches every streaming cloud provider as μ-law 8 kHz, byte for byte:
// nothing is decoded where the vendor takes G.711 (Deepgram `encoding=mulaw`, Google `MULAW`,
// OpenAI `audio/pcmu`).
const CALL_SECONDS = 2;
const mulaw = new Uint8Array(8000 * CALL_SECONDS);
for (let i = 0; i < mulaw.length; i++) mulaw[i] = (i * 37) % 256; // not silence, not one value

describe.each(streamingSubjects)('a Twilio call to $name', (subject) => {
  it('sends the call’s μ-law to the vendor untouched', async () => {
    const emulator = await subject.startEmulator({
      transcriber: scriptedTranscriber([{ text: 'hello from the phone', start: 0.2, end: 1.2 }]),
    });
    const provider = subject.createProvider(emulator, {
      apiKey: emulator.apiKey,
    }) as unknown as SttProvider;
    const server = await listen({ provider, port: 0, twilio: {}, resilience: false });
    try {
      const caller = await TwilioCaller.connect({
        url: `${server.url.replace('http', 'ws')}/v1/twilio`,
      });
      await until(
        () => server.earshot.twilio?.get(caller.callSid)?.sessionOf?.status === 'active',
        10_000,
      );
      await caller.streamAudio(mulaw, { pace: 'fast' });
      await caller.stop();
      const connection = emulator.connections[0]!;
      expect(connection.audioBytes).toBe(mulaw.byteLength);
      const declared = JSON.stringify({ query: [...connection.query], config: connection.config });
      expect(declared).toMatch(/mulaw|MULAW|pcmu|g711_ulaw/);
      expect(declared).toMatch(/8000|pcmu|g711_ulaw/);
    } finally {
      await server.close();
      await emulator.close();
    }
  });
});
