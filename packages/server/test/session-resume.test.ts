import { CloseCode } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import { readWavPcm16, speechFixtures } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import { WsProbe } from './ws-probe.js';

// The server side of a resume: a session outlives a dropped connection for the grace period,
// takes a new connection that presents its resume token, says how much audio it holds, and
// sends again the finals the client has not had.
const provider = createLocalProvider({ maxConcurrentStreams: 4 });
let server: RunningServer;
let wsUrl: string;
let speech: Buffer;
const PCM16 = { encoding: 'pcm16', sampleRate: 16000, channels: 1 };

beforeAll(async () => {
  server = await listen({ provider, port: 0, limits: { resumeGraceSeconds: 2 } });
  wsUrl = `${server.url.replace('http', 'ws')}/v1/listen`;
  const [fixture] = await speechFixtures();
  speech = (await readWavPcm16(fixture!.path)).pcm;
});

afterAll(async () => {
  await server.close();
  await provider.close();
});

async function startSession() {
  const probe = await WsProbe.open(wsUrl);
  probe.sendJson({ type: 'start', audio: PCM16 });
  const ready = await probe.next('ready');
  return { probe, ready };
}

const resumeStart = (sessionId: string, resumeToken: string, audioBytes: number, finals = 0) => ({
  type: 'start',
  audio: PCM16,
  resume: { sessionId, resumeToken, audioBytes, finals },
});

describe('resuming a session after its connection dropped', () => {
  it('takes the new connection, answers ready (resumed) and ack with the bytes it holds, and sends again the finals the client lacks', async () => {
    const { probe, ready } = await startSession();
    const half = speech.subarray(0, Math.floor(speech.byteLength / 2) & ~1);
    probe.sendBinary(half);
    probe.sendJson({ type: 'finalize' }); // a final before the drop
    for (let seen = 0; !probe.of('transcript').some((t) => t.isFinal); ) {
      await probe.next('transcript', seen);
      seen = probe.messages.length;
    }
    probe.close(); // the connection drops, no stop

    const again = await WsProbe.open(`${wsUrl}?token=${encodeURIComponent(ready.resumeToken)}`);
    again.sendJson(resumeStart(ready.sessionId, ready.resumeToken, half.byteLength, 0));
    const resumed = await again.next('ready');
    expect(resumed).toMatchObject({ sessionId: ready.sessionId, resumed: true });
    expect(resumed.resumeToken).not.toBe(ready.resumeToken);
    expect(await again.next('ack')).toMatchObject({ audioBytes: half.byteLength });
    // `finals: 0`: every final so far comes again, under the same segment ids.
    const resent = again.of('transcript').filter((t) => t.isFinal);
    const before = probe.of('transcript').filter((t) => t.isFinal);
    expect(resent.map((t) => t.segmentId)).toEqual(before.map((t) => t.segmentId));
    again.sendBinary(speech.subarray(half.byteLength));
    const count = again.messages.length;
    again.sendJson({ type: 'stop' });
    expect(await again.next('closed', count)).toMatchObject({ reason: 'stopped' });
  });

  it('closes a connection still attached (half-open after a drop) with 4002 when the session resumes elsewhere', async () => {
    const { probe, ready } = await startSession();
    const again = await WsProbe.open(`${wsUrl}?token=${encodeURIComponent(ready.resumeToken)}`);
    again.sendJson(resumeStart(ready.sessionId, ready.resumeToken, 0));
    await again.next('ready');
    expect((await probe.waitClosed()).code).toBe(CloseCode.Superseded);
    again.sendJson({ type: 'stop' });
    await again.next('closed');
  });

  it('refuses a resume with a bad token (401) and after the grace period (404)', async () => {
    expect(await WsProbe.refusal(`${wsUrl}?token=not-a-token`)).toBe(401);
    const { probe, ready } = await startSession();
    probe.close();
    await new Promise((resolve) => setTimeout(resolve, 2500)); // the 2 s grace runs out
    expect(await WsProbe.refusal(`${wsUrl}?token=${encodeURIComponent(ready.resumeToken)}`)).toBe(
      404,
    );
    expect(server.earshot.getSession(ready.sessionId)).toBeUndefined();
  });

  it('answers start.resume on a fresh connection (no resume token at the upgrade) with session_not_found', async () => {
    const { probe, ready } = await startSession();
    const fresh = await WsProbe.open(wsUrl);
    fresh.sendJson(resumeStart(ready.sessionId, ready.resumeToken, 0));
    expect(await fresh.next('error')).toMatchObject({ code: 'session_not_found' });
    fresh.close();
    probe.sendJson({ type: 'stop' });
    await probe.next('closed');
  });
});
