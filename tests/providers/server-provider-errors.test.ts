import { EarshotClient } from '@earshot/client';
import { createDeepgramProvider } from '@earshot/providers/deepgram';
import { listen, type RunningServer } from '@earshot/server/node';
import {
  type DeepgramEmulator,
  scriptedTranscriber,
  stampedAudio,
  startDeepgramEmulator,
} from '@earshot/testing';
import { afterEach, describe, expect, it } from 'vitest';

// Provider failures as a client of the server sees them: one `error` with a stable code, a
// clean end of the session, and nothing left open upstream.
const audio = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;
let emulator: DeepgramEmulator;
let server: RunningServer;

async function serve(apiKey: string) {
  emulator = await startDeepgramEmulator({
    transcriber: scriptedTranscriber([{ text: 'hello there', start: 0.2, end: 0.8 }]),
  });
  server = await listen({
    provider: createDeepgramProvider({ apiKey, baseUrl: emulator.endpoint }),
    resilience: { retry: { initialDelayMs: 10, maxDelayMs: 20, budget: 2 } },
    port: 0,
  });
  return new EarshotClient({ url: `${server.url.replace('http', 'ws')}/v1/listen` });
}

afterEach(async () => {
  await server?.close();
  await emulator?.close();
});

describe('provider failures reach the client as one error and a clean end', () => {
  it('a refused key: provider_unavailable at start, no upstream left', async () => {
    const client = await serve('wrong-key');
    const errors: { code: string; fatal: boolean }[] = [];
    client.on('error', (e) => errors.push(e));
    await expect(client.start({ audio })).rejects.toMatchObject({ code: 'provider_unavailable' });
    expect(errors.map((e) => e.code)).toContain('provider_unavailable');
    expect(emulator.connections.length).toBe(0); // refused at the upgrade, never retried
  });

  it('an upstream that keeps failing mid-stream: one fatal provider error once recovery fails', async () => {
    const client = await serve('test-key');
    const errors: { code: string; fatal: boolean }[] = [];
    const finals: string[] = [];
    client.on('error', (e) => errors.push(e));
    client.on('transcript', (t) => t.isFinal && finals.push(t.text));
    await client.start({ audio });
    for (let k = 0; k < 12; k++) client.sendAudio(stampedAudio(k, 16000));
    await new Promise((resolve) => setTimeout(resolve, 200));
    emulator.faults = { refuseNext: 100 };
    emulator.dropAll();
    const closed = await new Promise<unknown>((resolve) => client.once('closed', resolve));
    expect(finals).toEqual(['hello there']); // stored and sent before the failure
    expect(errors.filter((e) => e.fatal).map((e) => e.code)).toEqual(['provider_unavailable']);
    expect(closed).toMatchObject({ reason: 'error' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(emulator.connections.every((c) => c.closed !== undefined)).toBe(true);
  });
});
