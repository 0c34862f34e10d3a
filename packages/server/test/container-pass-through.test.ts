import { createDeepgramProvider } from '@earshot/providers/deepgram';
import {
  type DeepgramEmulator,
  makeOpusFixtures,
  type OpusFixtures,
  scriptedTranscriber,
  startDeepgramEmulator,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import { WsProbe } from './ws-probe.js';

// A provider that reads containers (Deepgram) gets a browser's WebM/Opus untouched: nothing is
// decoded on the server, yet the session keeps its audio clock and still rejects bytes that
// are not WebM/Opus before they reach the vendor.
let emulator: DeepgramEmulator;
let server: RunningServer;
let fixtures: OpusFixtures;
let wsUrl: string;

beforeAll(async () => {
  fixtures = await makeOpusFixtures();
  emulator = await startDeepgramEmulator({
    transcriber: scriptedTranscriber([{ text: 'hello world', start: 1, end: 2 }]),
  });
  const provider = createDeepgramProvider({ apiKey: emulator.apiKey, baseUrl: emulator.endpoint });
  server = await listen({ provider, port: 0 });
  wsUrl = `${server.url.replace('http', 'ws')}/v1/listen`;
});

afterAll(async () => {
  await server?.close();
  await emulator?.close();
  fixtures?.cleanup();
});

async function started(): Promise<WsProbe> {
  const probe = await WsProbe.open(wsUrl);
  probe.sendJson({ type: 'start', audio: { encoding: 'webm-opus', sampleRate: 48000 } });
  return probe;
}

describe('WebM/Opus passed through to a provider that reads it', () => {
  it('sends the container untouched, keeps the session clock by its packets, and transcribes', async () => {
    const probe = await started();
    expect(await probe.next('ready')).toMatchObject({
      conversion: 'pass-through',
      providerAudio: { encoding: 'webm-opus', sampleRate: 48000, channels: 1 },
    });
    const bytes = fixtures.liveWebm;
    for (let at = 0; at < bytes.byteLength; at += 4000)
      probe.sendBinary(bytes.subarray(at, at + 4000));
    const before = probe.messages.length;
    probe.sendJson({ type: 'session_info' });
    const info = await probe.next('session_info', before);
    expect(info.audioSeconds).toBeCloseTo(fixtures.webmReference.length / 48000, 1);
    probe.sendJson({ type: 'stop' });
    await probe.next('closed', before);
    const finals = probe.of('transcript').filter((t) => t.isFinal);
    expect(finals.map((t) => t.text.toLowerCase().replace(/[.,]/g, ''))).toEqual(['hello world']);
    // Deepgram is told nothing about the format: it reads the container's header.
    const query = emulator.connections.at(-1)!.query;
    expect(query.get('encoding')).toBeNull();
    expect(query.get('sample_rate')).toBeNull();
    expect(emulator.connections.at(-1)!.config).toMatchObject({ containerized: true });
  });

  it('rejects bytes that are not WebM with invalid_audio, on the server', async () => {
    const probe = await started();
    await probe.next('ready');
    probe.sendBinary(Buffer.from('definitely not an EBML header, just text'.repeat(50)));
    expect(await probe.next('error')).toMatchObject({ code: 'invalid_audio' });
    probe.close();
  });
});
