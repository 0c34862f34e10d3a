import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalProvider } from '@earshot/providers/local';
import { speechFixtures, TwilioCaller, until } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../../src/adapters/node.js';

// Talking back into a bidirectional call: what the server plays reaches Twilio as 160-byte
// μ-law frames paced at 20 ms with a mark after each utterance, the play settles when Twilio
// echoes its mark, and the caller speaking over it clears it (barge-in).
const provider = createLocalProvider({ maxConcurrentStreams: 2 });
const dir = mkdtempSync(join(tmpdir(), 'earshot-twilio-play-'));
let server: RunningServer;
let speechUlaw: Buffer;
let promptWav: Buffer; // 1.5 s of a 440 Hz tone, PCM16 16 kHz WAV
let promptMp3: Buffer;

beforeAll(async () => {
  server = await listen({ provider, port: 0, twilio: {} });
  promptWav = tone('wav', join(dir, 'prompt.wav'));
  promptMp3 = tone('mp3', join(dir, 'prompt.mp3'));
  const [fixture] = await speechFixtures();
  const ulaw = join(dir, 'speech.ul');
  execFileSync('ffmpeg', [
    '-loglevel',
    'error',
    '-i',
    fixture!.path,
    '-ar',
    '8000',
    '-f',
    'mulaw',
    ulaw,
  ]);
  speechUlaw = readFileSync(ulaw);
});

afterAll(async () => {
  await server.close();
  await provider.close();
  rmSync(dir, { recursive: true, force: true });
});

function tone(format: 'wav' | 'mp3', path: string, seconds = 1.5): Buffer {
  execFileSync('ffmpeg', [
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=440:duration=${seconds}`,
    '-ar',
    '16000',
    '-ac',
    '1',
    ...(format === 'wav' ? ['-c:a', 'pcm_s16le'] : []),
    path,
  ]);
  return readFileSync(path);
}

async function connectedCall() {
  const caller = await TwilioCaller.connect({
    url: `${server.url.replace('http', 'ws')}/v1/twilio`,
  });
  await until(
    () => server.earshot.twilio?.get(caller.callSid)?.sessionOf?.status === 'active',
    10_000,
  );
  return { caller, session: server.earshot.twilio!.get(caller.callSid)!.sessionOf! };
}

describe('playing audio into a call', () => {
  it('sends 160-byte μ-law frames at 20 ms pacing, a mark after each utterance, and settles on the echo', async () => {
    const { caller, session } = await connectedCall();
    const outcomes = await Promise.all([session.play(promptWav), session.play(promptMp3)]);
    expect(outcomes).toEqual(['played', 'played']);

    const media = caller.received.filter((f) => f.event === 'media');
    expect(media.every((f) => f.payload?.byteLength === 160)).toBe(true);
    // 1.5 s of audio each: 75 frames (the MP3 decoder may add a frame of padding).
    expect(media.length).toBeGreaterThanOrEqual(150);
    expect(media.length).toBeLessThanOrEqual(154);
    const span = media[media.length - 1]!.at - media[0]!.at;
    const perFrame = span / (media.length - 1);
    console.log(
      `played ${media.length} frames over ${span.toFixed(0)} ms: ${perFrame.toFixed(2)} ms per frame`,
    );
    // The player keeps a clock (late timers catch up), so the mean holds on a busy machine.
    expect(perFrame).toBeGreaterThan(18);
    expect(perFrame).toBeLessThan(22);
    // A mark after each utterance's last frame, in order.
    const events = caller.received.map((f) => (f.event === 'mark' ? f.mark : f.event));
    const marks = events.filter((e) => e !== 'media');
    expect(marks).toEqual(['earshot-1', 'earshot-2']);
    // The first mark follows the first utterance's last frame: 75 frames of 1.5 s.
    expect(events.indexOf('earshot-1')).toBe(75);
    expect(server.earshot.twilio!.stats(caller.callSid)).toMatchObject({
      marksSent: 2,
      marksEchoed: 2,
      bufferSize: 0,
    });
    await caller.stop();
  });

  it('takes raw PCM at any rate', async () => {
    const { caller, session } = await connectedCall();
    const pcm = new Int16Array(24_000); // 0.5 s at 48 kHz
    for (let i = 0; i < pcm.length; i++)
      pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 300 * i) / 48_000));
    expect(await session.play({ pcm16: pcm, sampleRate: 48_000 })).toBe('played');
    expect(caller.received.filter((f) => f.event === 'media')).toHaveLength(25);
    await caller.stop();
  });

  it('clears what is playing when the caller speaks over it (barge-in)', async () => {
    const { caller, session } = await connectedCall();
    const long = tone('wav', join(dir, 'long.wav'), 20);
    const playing = session.play(long);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The caller talks: the engine hears speech, the server clears the call's audio.
    void caller.streamAudio(speechUlaw);
    expect(await playing).toBe('interrupted');
    await until(() => caller.received.some((f) => f.event === 'clear'), 5000);
    const clearAt = caller.received.findIndex((f) => f.event === 'clear');
    expect(clearAt).toBeGreaterThan(0);
    // Nothing more of that utterance after the clear, and far less than 20 s of it was sent.
    expect(caller.received.slice(clearAt + 1).filter((f) => f.event === 'media')).toHaveLength(0);
    expect(caller.received.filter((f) => f.event === 'media').length).toBeLessThan(500);
    await caller.stop();
  });

  it('refuses to play on a session whose transport cannot', async () => {
    const { EarshotClient } = await import('@earshot/client');
    const client = new EarshotClient({ url: `${server.url.replace('http', 'ws')}/v1/listen` });
    await client.start({ audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 } });
    const session = server.earshot.getSession(client.sessionId!)!;
    await expect(session.play(promptWav)).rejects.toMatchObject({ code: 'invalid_request' });
    await client.stop();
  });
});
