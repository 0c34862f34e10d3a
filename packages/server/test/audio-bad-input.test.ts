import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CloseCode } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import { readWavPcm16, referenceTranscript, speechFixtures, wordErrorRate } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import { WsProbe } from './ws-probe.js';

// Audio that is not what it claims to be gets a typed error; the session is not corrupted and
// a healthy session running beside it never notices.
const dir = mkdtempSync(join(tmpdir(), 'earshot-bad-audio-'));
// Room for the two sessions of the last test while earlier ones are still closing.
const provider = createLocalProvider({ maxConcurrentStreams: 3 });
let server: RunningServer;
let wsUrl: string;
let speech: Buffer;
let speechPath: string;

beforeAll(async () => {
  server = await listen({ provider, port: 0 });
  wsUrl = `${server.url.replace('http', 'ws')}/v1/listen`;
  const [fixture] = await speechFixtures();
  speechPath = fixture!.path;
  speech = (await readWavPcm16(speechPath)).pcm;
});

afterAll(async () => {
  await server.close();
  await provider.close();
  rmSync(dir, { recursive: true, force: true });
});

async function started(audio: Record<string, unknown>): Promise<WsProbe> {
  const probe = await WsProbe.open(wsUrl);
  probe.sendJson({ type: 'start', audio });
  await probe.next('ready');
  return probe;
}

async function finish(probe: WsProbe): Promise<string> {
  const before = probe.messages.length;
  probe.sendJson({ type: 'stop' });
  await probe.next('closed', before);
  return probe
    .of('transcript')
    .filter((t) => t.isFinal)
    .map((t) => t.text)
    .join(' ');
}

function sendInFrames(probe: WsProbe, bytes: Uint8Array, frame = 3200): void {
  for (let at = 0; at < bytes.byteLength; at += frame)
    probe.sendBinary(bytes.subarray(at, at + frame));
}

describe('bad audio gets a typed error and corrupts nothing', () => {
  it.each([
    ['a sample rate of 0', { encoding: 'pcm16', sampleRate: 0 }],
    ['a sample rate of 10 MHz', { encoding: 'pcm16', sampleRate: 10_000_000 }],
    ['8 channels', { encoding: 'pcm16', sampleRate: 16000, channels: 8 }],
    ['an unknown encoding', { encoding: 'mp3', sampleRate: 44100 }],
  ])(
    'refuses %s at start with invalid_message, and the session can start again',
    async (_name, audio) => {
      const probe = await WsProbe.open(wsUrl);
      probe.sendJson({ type: 'start', audio });
      expect(await probe.next('error')).toMatchObject({ code: 'invalid_message', fatal: false });
      probe.sendJson({ type: 'start', audio: { encoding: 'pcm16', sampleRate: 16000 } });
      await probe.next('ready');
      await finish(probe);
    },
  );

  it('reports odd-length PCM16 frames once with invalid_audio and still transcribes the stream', async () => {
    const reference = (await referenceTranscript(speechPath)).join(' ');
    const probe = await started({ encoding: 'pcm16', sampleRate: 16000 });
    sendInFrames(probe, speech, 3201);
    const text = await finish(probe);
    expect(probe.of('error').map((e) => [e.code, e.fatal])).toEqual([['invalid_audio', false]]);
    expect(wordErrorRate(reference, text)).toBe(0);
  });

  it('closes a WAV stream with an unsupported codec with unsupported_audio_format and close 1003', async () => {
    const floatWav = join(dir, 'float.wav');
    await promisify(execFile)('sox', [speechPath, '-e', 'floating-point', '-b', '32', floatWav]);
    const probe = await started({ encoding: 'wav', sampleRate: 16000 });
    sendInFrames(probe, readFileSync(floatWav));
    expect(await probe.next('error')).toMatchObject({
      code: 'unsupported_audio_format',
      fatal: true,
    });
    expect((await probe.waitClosed()).code).toBe(CloseCode.UnsupportedData);
  });

  it('answers a declared WAV stream that is not WAV with invalid_audio', async () => {
    const probe = await started({ encoding: 'wav', sampleRate: 16000 });
    probe.sendBinary(Buffer.from('this is not a RIFF header at all'));
    expect(await probe.next('error')).toMatchObject({ code: 'invalid_audio', fatal: true });
    expect((await probe.waitClosed()).code).toBe(CloseCode.UnsupportedData);
  });

  it('reports garbage after a WebM header with invalid_audio while a healthy session beside it transcribes as usual', async () => {
    const webm = join(dir, 'speech.webm');
    await promisify(execFile)('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-i',
      speechPath,
      '-c:a',
      'libopus',
      '-f',
      'webm',
      webm,
    ]);
    const bytes = readFileSync(webm);
    const reference = (await referenceTranscript(speechPath)).join(' ');

    const healthy = await started({ encoding: 'pcm16', sampleRate: 16000 });
    const broken = await started({ encoding: 'webm-opus', sampleRate: 48000 });
    // The header and first cluster, then noise where clusters should be.
    broken.sendBinary(bytes.subarray(0, 600));
    broken.sendBinary(Buffer.alloc(20_000, 0x5a));
    sendInFrames(healthy, speech);

    expect(await broken.next('error')).toMatchObject({ code: 'invalid_audio' });
    expect(wordErrorRate(reference, await finish(healthy))).toBe(0);
    expect(healthy.of('error')).toEqual([]);
    broken.close();
  });
});
