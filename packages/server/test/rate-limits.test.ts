import type { Socket } from 'node:net';
import type { ServerMessage } from '@earshot/protocol';
import { createDeepgramProvider } from '@earshot/providers/deepgram';
import {
  type DeepgramEmulator,
  scriptedTranscriber,
  startDeepgramEmulator,
  until,
} from '@earshot/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import type { EarshotServerOptions } from '../src/index.js';
import { WsProbe } from './ws-probe.js';

// What one connection may send and be sent: a flood of frames is cut off (1008), audio faster
// than the allowed multiple of real time is dropped with `rate_limited`, and a client that
// reads too slowly is closed (1013) before the server's memory grows with it.
let emulator: DeepgramEmulator;
const servers: RunningServer[] = [];
const PCM16 = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;

beforeAll(async () => {
  emulator = await startDeepgramEmulator({ transcriber: scriptedTranscriber([]) });
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await emulator.close();
});

async function serve(options: Partial<EarshotServerOptions>) {
  const server = await listen({
    provider: createDeepgramProvider({ apiKey: emulator.apiKey, baseUrl: emulator.endpoint }),
    port: 0,
    ...options,
  });
  servers.push(server);
  return { server, url: `${server.url.replace('http', 'ws')}/v1/listen` };
}

describe('rate limits of one connection', () => {
  it('closes a connection that floods frames with 1008', async () => {
    const { url } = await serve({ connections: { maxMessagesPerSecond: 20 } });
    const probe = await WsProbe.open(url);
    for (let i = 0; i < 200; i++) probe.sendJson({ type: 'ping' });
    expect(await probe.waitClosed()).toMatchObject({ code: 1008 });
  });

  it('drops audio beyond the allowed multiple of real time with rate_limited, keeping what was within it', async () => {
    const { url, server } = await serve({
      limits: { maxRealtimeFactor: 2, realtimeBurstSeconds: 1 },
    });
    const probe = await WsProbe.open(url);
    probe.sendJson({ type: 'start', audio: PCM16 });
    await probe.next('ready');
    // Five seconds of audio at once: one second (the burst) passes, the rest is dropped.
    for (let i = 0; i < 50; i++) probe.sendBinary(new Uint8Array(3200));
    const error = await probe.next('error');
    expect(error).toMatchObject({ code: 'rate_limited', fatal: false });
    const session = server.earshot.sessions()[0]!;
    expect(session.audioSeconds).toBeGreaterThanOrEqual(1);
    expect(session.audioSeconds).toBeLessThan(1.5);
    // At the allowed pace, audio flows again.
    await new Promise((resolve) => setTimeout(resolve, 600));
    probe.sendBinary(new Uint8Array(3200));
    await until(() => session.audioSeconds >= 1.1);
    probe.close();
  });

  it('closes a client that reads too slowly with 1013 before its backlog grows further', async () => {
    const { url, server } = await serve({
      connections: { dropInterimsAboveBytes: 64 * 1024, maxBufferedBytes: 1024 * 1024 },
    });
    const probe = await WsProbe.open(url);
    probe.sendJson({ type: 'start', audio: PCM16 });
    await probe.next('ready');
    // The client stops reading: what the server sends piles up in its buffers.
    const tcp = (probe.socket as unknown as { _socket: Socket })._socket;
    tcp.pause();
    const session = server.earshot.sessions()[0]!;
    const payload = { notice: 'x'.repeat(60_000) };
    for (let i = 0; i < 400; i++) {
      session.broadcast(payload);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Reading again, the client finds what was sent before the server gave up, then its close.
    tcp.resume();
    expect((await probe.waitClosed()).code).toBe(1013);
    const broadcasts = probe.messages.filter((m: ServerMessage) => m.type === 'broadcast');
    expect(broadcasts.length).toBeGreaterThan(0);
    expect(broadcasts.length).toBeLessThan(400);
  });
});
