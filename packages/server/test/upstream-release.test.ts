import { createDeepgramProvider } from '@earshot/providers/deepgram';
import {
  type DeepgramEmulator,
  STAMP_SECONDS,
  scriptedTranscriber,
  stampedAudio,
  startDeepgramEmulator,
  TwilioCaller,
  until,
} from '@earshot/testing';
import { expectNoLeaksAfterEach } from '@earshot/testing/leak-guard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import { WsProbe } from './ws-probe.js';

// A provider connection must not outlive its client: it costs money while open, and relays
// that left the upstream running after a dropped call are a known failure. With the default
// 30 s resume grace the session waits for its client, but its upstream closes at once; a
// resume opens a new one that hears the cut utterance again from its start, so the finals are
// the ones an unbroken session gives, each once.
const PCM16 = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;
const TWILIO_AUTH_TOKEN = 'twilio-auth-token-for-tests';
// Each test closes what it opened (clients, their server and upstream connections).
expectNoLeaksAfterEach();
let emulator: DeepgramEmulator;
let server: RunningServer;
let wsUrl: string;

beforeAll(async () => {
  emulator = await startDeepgramEmulator({
    transcriber: scriptedTranscriber(
      [
        { text: 'first words here', start: 0.2, end: 1.0 },
        { text: 'cut by the drop', start: 1.4, end: 2.6 },
      ],
      { stamped: true },
    ),
  });
  server = await listen({
    provider: createDeepgramProvider({ apiKey: emulator.apiKey, baseUrl: emulator.endpoint }),
    port: 0,
    twilio: { authToken: TWILIO_AUTH_TOKEN },
  });
  wsUrl = `${server.url.replace('http', 'ws')}/v1/listen`;
});

afterAll(async () => {
  await server.close();
  await emulator.close();
});

/** Stamped chunks `from` to `to` (exclusive), 100 ms each. */
function sendChunks(probe: WsProbe, from: number, to: number): void {
  for (let i = from; i < to; i++) probe.sendBinary(stampedAudio(i, PCM16.sampleRate));
}

describe('the upstream of a client that went away', () => {
  it('closes within moments of the drop although the session waits 30 s for a resume, and opens again only when audio comes back', async () => {
    const probe = await WsProbe.open(wsUrl);
    probe.sendJson({ type: 'start', audio: PCM16 });
    const ready = await probe.next('ready');
    sendChunks(probe, 0, 20); // 2 s: the first utterance final, the second begun
    await until(() => probe.of('transcript').some((t) => t.isFinal), 10_000);
    const upstream = emulator.connections.at(-1)!;
    const connections = emulator.connections.length;

    const droppedAt = Date.now();
    probe.close(); // a network drop: no close frame, no stop
    await until(() => upstream.closed !== undefined, 10_000);
    console.log(`upstream closed ${Date.now() - droppedAt} ms after the client dropped`);
    expect(server.earshot.getSession(ready.sessionId)?.resumable).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(emulator.connections.length).toBe(connections); // nothing reopened while away

    const again = await WsProbe.open(`${wsUrl}?token=${encodeURIComponent(ready.resumeToken)}`);
    const held = 20 * STAMP_SECONDS * 32_000;
    again.sendJson({
      type: 'start',
      audio: PCM16,
      resume: { sessionId: ready.sessionId, resumeToken: ready.resumeToken, audioBytes: held },
    });
    await again.next('ready');
    expect(await again.next('ack')).toMatchObject({ audioBytes: held });
    sendChunks(again, 20, 40);
    await until(() => emulator.connections.length === connections + 1, 10_000);
    const count = again.messages.length;
    again.sendJson({ type: 'stop' });
    await again.next('closed', count);

    const finals = [...probe.of('transcript'), ...again.of('transcript')].filter((t) => t.isFinal);
    const unique = new Map(finals.map((t) => [t.segmentId, t]));
    expect([...unique.values()].map((t) => t.text)).toEqual([
      'first words here',
      'cut by the drop',
    ]);
    // On the session's clock, as if nothing had happened.
    const cut = [...unique.values()][1]!;
    expect(cut.start).toBeGreaterThan(1.3);
    expect(cut.end).toBeLessThan(2.8);
  });

  it.each([
    ['hangs up (stop)', (call: TwilioCaller) => void call.stop()],
    ['drops off the network', (call: TwilioCaller) => call.drop()],
  ])('closes within moments when a phone caller %s mid-utterance', async (_how, hangUp) => {
    const before = emulator.connections.length;
    const call = await TwilioCaller.connect({
      url: `${server.url.replace('http', 'ws')}/v1/twilio`,
      authToken: TWILIO_AUTH_TOKEN,
    });
    for (let i = 0; i < 75; i++) call.sendMedia(new Uint8Array(160).fill(0xff)); // 1.5 s
    await until(() => (emulator.connections[before]?.audioBytes ?? 0) > 0, 10_000);
    const upstream = emulator.connections[before]!;
    const hungUpAt = Date.now();
    hangUp(call);
    await until(() => upstream.closed !== undefined, 10_000);
    console.log(`upstream closed ${Date.now() - hungUpAt} ms after the caller ${_how}`);
    await until(() => server.earshot.sessions().length === 0, 10_000);
    expect(emulator.connections.length).toBe(before + 1);
  });
});
