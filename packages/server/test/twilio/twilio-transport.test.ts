import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerMessage } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import {
  encodeWavPcm16,
  referenceTranscript,
  speechFixtures,
  TwilioCaller,
  until,
  wordErrorRate,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { listen, type RunningServer } from '../../src/adapters/node.js';
import { decodeMulaw } from '../../src/audio/g711.js';
import { pcm16ToBytes } from '../../src/audio/pcm16.js';
import { createResampler } from '../../src/audio/resampler.js';
import { createMemoryStore } from '../../src/stores/memory-store.js';

// Twilio's side of a phone call, played by TwilioCaller exactly as Twilio sends it: a signed
// upgrade, `connected`, `start`, real μ-law speech in 20 ms `media` frames at real-time pace,
// `stop`. The local engine transcribes; the stored and the observed transcripts are checked.
const AUTH_TOKEN = 'twilio-auth-token-for-tests';
const ADMIN_KEY = 'admin-key';
const provider = createLocalProvider({ maxConcurrentStreams: 3 });
const store = createMemoryStore();
const dir = mkdtempSync(join(tmpdir(), 'earshot-twilio-'));
let server: RunningServer;
let streamUrl: string;
let speech: Buffer; // μ-law 8 kHz mono
let reference: string;

beforeAll(async () => {
  server = await listen({
    provider,
    store,
    port: 0,
    twilio: { authToken: AUTH_TOKEN },
    adminAuth: { apiKey: ADMIN_KEY },
  });
  streamUrl = `${server.url.replace('http', 'ws')}/v1/twilio`;
  // Two real recordings as the phone network carries them: μ-law 8 kHz. The reference is what
  // the local engine (pocketsphinx_continuous) hears in exactly that audio, decoded to 16 kHz
  // the way the server decodes it. (PocketSphinx's 16 kHz model hears phone-band audio badly:
  // these words are not the recording's, but they are the engine's for this audio; a transport
  // that lost, repeated or reordered frames would change them.)
  const fixtures = (await speechFixtures()).slice(0, 2);
  const ulaw = join(dir, 'call.ul');
  const parts = fixtures.map((fixture, i) => {
    const part = join(dir, `part-${i}.ul`);
    execFileSync('ffmpeg', [
      '-loglevel',
      'error',
      '-i',
      fixture.path,
      '-ar',
      '8000',
      '-ac',
      '1',
      '-f',
      'mulaw',
      part,
    ]);
    return readFileSync(part);
  });
  speech = Buffer.concat(parts);
  writeFileSync(ulaw, speech);
  const resampler = createResampler(8000, 16000);
  const decoded = resampler.process(decodeMulaw(speech));
  const tail = resampler.flush();
  const pcm = new Int16Array(decoded.length + tail.length);
  pcm.set(decoded);
  pcm.set(tail, decoded.length);
  const wav = join(dir, 'call.wav');
  writeFileSync(
    wav,
    encodeWavPcm16(pcm16ToBytes(pcm), { encoding: 'pcm16', sampleRate: 16000, channels: 1 }),
  );
  reference = (await referenceTranscript(wav)).join(' ');
});

afterAll(async () => {
  await server.close();
  await provider.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (options: Partial<Parameters<typeof TwilioCaller.connect>[0]> = {}) =>
  TwilioCaller.connect({ url: streamUrl, authToken: AUTH_TOKEN, ...options });

/** An observer on the session's events, as the app's dashboard would be. */
async function observe(sessionId: string) {
  const socket = new WebSocket(
    `${server.url.replace('http', 'ws')}/v1/sessions/${sessionId}/events`,
    {
      headers: { 'x-api-key': ADMIN_KEY },
    },
  );
  const messages: ServerMessage[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data)) as ServerMessage));
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return { socket, messages };
}

describe('a Twilio call', () => {
  it('is transcribed from real μ-law frames at real-time pace: stored and observed as the local engine hears it', async () => {
    const caller = await call({ customParameters: { userId: 'caller-7', from: '+15550100' } });
    await until(() => server.earshot.twilio?.get(caller.callSid) !== undefined, 5000);
    const observer = await observe(caller.callSid);
    await caller.streamAudio(speech);
    caller.pressKey('5');
    const closed = await caller.stop();
    expect(closed.code).toBe(1000);

    const res = await fetch(`${server.url}/v1/sessions/${caller.callSid}`, {
      headers: { 'x-api-key': ADMIN_KEY },
    });
    const detail = (await res.json()) as {
      transcript: string;
      session: { metadata: Record<string, unknown>; status: string };
      events: { type: string; data: Record<string, unknown> }[];
    };
    const stored = detail.transcript;
    const observed = observer.messages
      .filter((m) => m.type === 'transcript' && m.isFinal && m.text)
      .map((m) => (m as { text: string }).text)
      .join(' ');
    const wer = wordErrorRate(reference, stored);
    console.log(
      `twilio call: WER ${wer.toFixed(3)} against the local engine on the same audio\n ref: ${reference}\n got: ${stored}`,
    );
    expect(wer).toBeLessThanOrEqual(0.15);
    expect(observed).toBe(stored);
    expect(detail.session).toMatchObject({
      status: 'ended',
      metadata: {
        userId: 'caller-7',
        from: '+15550100',
        callSid: caller.callSid,
        transport: 'twilio',
      },
    });
    expect(detail.events).toContainEqual(
      expect.objectContaining({ type: 'dtmf', data: { digit: '5' } }),
    );
    await until(() => observer.socket.readyState === observer.socket.CLOSED, 5000);
  });

  it('keeps per-call figures, finds calls by callSid and by user, and closes a call', async () => {
    const caller = await call({ customParameters: { userId: 'ann' } });
    await until(() => server.earshot.twilio?.get(caller.callSid) !== undefined, 5000);
    await caller.streamAudio(speech.subarray(0, 160 * 50), { pace: 'fast' });
    const calls = server.earshot.twilio!;
    await until(() => (calls.stats(caller.callSid)?.audioChunksReceived ?? 0) === 50, 5000);
    expect(calls.stats(caller.callSid)).toMatchObject({
      callSid: caller.callSid,
      streamSid: caller.streamSid,
      audioChunksReceived: 50,
      bytesReceived: 8000,
      bufferSize: 0,
    });
    expect(calls.ofUser('ann').map((c) => c.callSid)).toEqual([caller.callSid]);
    expect(calls.get(caller.callSid)?.sessionOf?.id).toBe(caller.callSid);
    expect(await calls.close(caller.callSid)).toBe(true);
    expect((await caller.closed).code).toBe(4000);
    await until(() => calls.get(caller.callSid) === undefined, 5000);
    expect(await calls.close('CA-no-such-call')).toBe(false);
  });
});

describe('Twilio’s signature on the upgrade', () => {
  it('refuses a bad or missing signature with 403, before any WebSocket is accepted', async () => {
    await expect(call({ authToken: 'not-the-token' })).rejects.toMatchObject({ status: 403 });
    await expect(call({ authToken: undefined })).rejects.toMatchObject({ status: 403 });
    await expect(call({ signature: '' })).rejects.toMatchObject({ status: 403 });
  });

  it('accepts the https:// form of the stream URL as well as the wss:// one', async () => {
    const signedUrl = streamUrl.replace('ws://', 'http://');
    const caller = await call({ signedUrl });
    expect((await caller.stop()).code).toBe(1000);
  });
});

describe('bad input on a call', () => {
  it('counts and logs malformed events, media before start, unknown events and bad payloads; the call goes on', async () => {
    const caller = await call({ start: false });
    caller.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    caller.sendMedia(speech.subarray(0, 160)); // before start
    caller.sendStart({ userId: 'bob' });
    await until(() => server.earshot.twilio?.get(caller.callSid) !== undefined, 5000);
    caller.sendText('{not json');
    caller.sendJson({ event: 'transcription', text: 'hi' }); // unknown event
    caller.sendJson({ event: 'media', sequenceNumber: 7, media: {} }); // malformed
    caller.sendJson({
      event: 'media',
      sequenceNumber: '9999',
      media: { track: 'inbound', chunk: '1', timestamp: '0', payload: '%%not base64%%' },
    });
    caller.skip(10); // ten frames lost
    await caller.streamAudio(speech, { pace: 'fast' });
    caller.sendMedia(speech.subarray(0, 160), 3); // a late frame
    await until(() => (server.earshot.twilio?.stats(caller.callSid)?.outOfOrder ?? 0) === 1, 5000);
    const stats = server.earshot.twilio!.stats(caller.callSid)!;
    expect(stats.rejectedFrames).toEqual({
      media_before_start: 1,
      invalid_json: 1,
      unknown_event: 1,
      malformed: 1,
      invalid_payload: 1,
    });
    expect(stats.sequenceGaps).toBe(10);
    expect(stats.outOfOrder).toBe(1);
    expect((await caller.stop()).code).toBe(1000);
    const transcript = (await store.getSegments(caller.callSid)).map((s) => s.text).join(' ');
    // It was transcribed (with the 200 ms of silence that stood in for the lost frames).
    expect(transcript.split(' ').length).toBeGreaterThanOrEqual(5);
  });

  it('closes cleanly on a stop without start', async () => {
    const caller = await call({ start: false });
    caller.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    expect(await caller.stop()).toMatchObject({ code: 1000 });
  });
});

describe('the voice webhook', () => {
  const form = new URLSearchParams({ CallSid: 'CA123', From: '+15550100', To: '+15550199' });
  const sign = (url: string) =>
    // Twilio: HMAC-SHA1 of the URL followed by each parameter's name and value, sorted.
    (async () => {
      const { createHmac } = await import('node:crypto');
      const data = [...form.keys()].sort().reduce((text, key) => text + key + form.get(key), url);
      return createHmac('sha1', AUTH_TOKEN).update(data).digest('base64');
    })();

  it('answers signed TwiML that connects the call to the stream, with no query string in its URL', async () => {
    const url = `${server.url}/v1/twilio/voice`;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': await sign(url),
      },
      body: form,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/xml/);
    const twiml = await res.text();
    expect(twiml).toContain(
      `<Connect><Stream url="${streamUrl}"><Parameter name="from" value="+15550100"/></Stream></Connect>`,
    );
    expect(twiml).not.toMatch(/Stream url="[^"]*\?/);
  });

  it('refuses an unsigned webhook with 403', async () => {
    const res = await fetch(`${server.url}/v1/twilio/voice`, { method: 'POST', body: form });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: 'forbidden' } });
  });
});
