import { EarshotClient } from '@earshot/client';
import type { TranscriptMessage } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import { listen, type RunningServer } from '@earshot/server/node';
import { readWavPcm16, speechFixtures, wordErrorRate } from '@earshot/testing';
import { expectNoLeaksAfterEach } from '@earshot/testing/leak-guard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

// The network between client and server dies mid-utterance (a proxy resets both sides). The
// session waits on the server with its provider stream open; the client reconnects through
// the proxy with its resume token, sends again the audio the server had not acknowledged, and
// drops the finals it already had. The transcript must be the one an unbroken run gives:
// every word, exactly once.
// Each test closes what it opened (clients, their server and upstream connections).
expectNoLeaksAfterEach();
const provider = createLocalProvider({ maxConcurrentStreams: 2 });
let server: RunningServer;
let proxy: TcpProxy;
let speech: Buffer;

beforeAll(async () => {
  server = await listen({ provider, port: 0 });
  proxy = await startTcpProxy(Number(new URL(server.url).port));
  // Two recordings back to back: several utterances, so the cut lands inside one.
  const [a, b] = await speechFixtures();
  speech = Buffer.concat([(await readWavPcm16(a!.path)).pcm, (await readWavPcm16(b!.path)).pcm]);
});

afterAll(async () => {
  await proxy.close();
  await server.close();
  await provider.close();
});

/** Streams the speech at twice real time; `onSecond` sees each second sent. */
async function run(
  onSecond?: (second: number) => void,
): Promise<{ finals: TranscriptMessage[]; replayedBytes: number }> {
  const client = new EarshotClient({
    url: `ws://127.0.0.1:${proxy.port}/v1/listen`,
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
  });
  const finals: TranscriptMessage[] = [];
  client.on('transcript', (t) => t.isFinal && finals.push(t));
  // What the resume sent again: the client had accepted more than the server said it held.
  let replayedBytes = 0;
  client.on('resumed', () => {
    const accepted = client.bytesAccepted;
    client.once('ack', (ack) => {
      replayedBytes = accepted - ack.audioBytes;
    });
  });
  await client.start({ audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 } });
  const frame = 3200; // 100 ms
  for (let at = 0, k = 0; at < speech.byteLength; at += frame, k++) {
    client.sendAudio(speech.subarray(at, at + frame));
    if (k % 10 === 9) onSecond?.((k + 1) / 10);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await client.stop();
  return { finals, replayedBytes };
}

describe('a network drop between client and server', () => {
  it('is healed by a resume: every word of the audio exactly once', async () => {
    const { finals: baseline } = await run();
    const baselineText = baseline.map((f) => f.text).join(' ');
    expect(baselineText.split(' ').length).toBeGreaterThan(15);

    // Mid-utterance: inside the first recording's only (long) utterance.
    const cutAt = 4;
    const before = proxy.accepted;
    const { finals, replayedBytes } = await run((second) => {
      // The link loses what is sent for 300 ms, then both ends are reset.
      if (second === cutAt) void proxy.cut({ losingMs: 300 });
    });
    expect(proxy.accepted - before).toBe(2); // the first connection and the resumed one
    // At least the 300 ms of audio the server never got was sent again (PCM16 16 kHz).
    expect(replayedBytes).toBeGreaterThanOrEqual(0.3 * 32000 * 0.5);
    const text = finals.map((f) => f.text).join(' ');
    console.log(`resumed after a cut at ${cutAt} s: WER ${wordErrorRate(baselineText, text)}`);
    expect(text).toBe(baselineText);
    const ids = finals.map((f) => f.segmentId);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
