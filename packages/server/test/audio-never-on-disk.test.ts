import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AudioFormat } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import {
  makeOpusFixtures,
  OPUS_FIXTURE_RECORDING,
  type OpusFixtures,
  readWavPcm16,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import { encodeMulaw } from '../src/audio/g711.js';
import { pcm16FromBytes } from '../src/audio/pcm16.js';
import { createResampler } from '../src/audio/resampler.js';
import { WsProbe } from './ws-probe.js';

// Audio is never written to disk unless an app asks. Each audio path runs a whole session
// through the local engine while os.tmpdir() points at an empty folder of this test's own; it
// must still be empty afterwards. A private folder, not the shared /tmp: other test files
// write there at the same time. TMPDIR is read by os.tmpdir() at every call and inherited by
// child processes (FFmpeg), so both would write here if they wrote temporary files at all.
const provider = createLocalProvider({ maxConcurrentStreams: 2 });
const realTmpdir = process.env.TMPDIR;
let watched: string;
let fixtures: OpusFixtures;
let pcm16: Uint8Array;
let mulaw: Uint8Array;
let wasm: RunningServer;
let ffmpeg: RunningServer;

beforeAll(async () => {
  // Fixtures are made before the swap: making them writes files, as fixtures do.
  fixtures = await makeOpusFixtures();
  pcm16 = (await readWavPcm16(OPUS_FIXTURE_RECORDING)).pcm;
  const phoneRate = createResampler(16000, 8000).process(pcm16FromBytes(pcm16));
  mulaw = encodeMulaw(phoneRate);

  watched = mkdtempSync(join(tmpdir(), 'earshot-no-audio-on-disk-'));
  process.env.TMPDIR = watched;
  wasm = await listen({ provider, port: 0 });
  ffmpeg = await listen({ provider, port: 0, audio: { opusDecoder: 'ffmpeg' } });
});

afterAll(async () => {
  await wasm?.close();
  await ffmpeg?.close();
  await provider.close();
  if (realTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = realTmpdir;
  fixtures?.cleanup();
  if (watched) rmSync(watched, { recursive: true, force: true });
});

/** Streams `audio` as one session and resolves the finals' text once it has closed. */
async function transcribe(
  server: RunningServer,
  audio: Uint8Array,
  format: AudioFormat,
): Promise<string> {
  const probe = await WsProbe.open(`${server.url.replace('http', 'ws')}/v1/listen`);
  probe.sendJson({ type: 'start', audio: format });
  await probe.next('ready');
  for (let at = 0; at < audio.byteLength; at += 4096)
    probe.sendBinary(audio.subarray(at, at + 4096));
  probe.sendJson({ type: 'stop' });
  const closed = await probe.next('closed');
  expect(closed.summary.audioSeconds).toBeGreaterThan(6);
  return probe
    .of('transcript')
    .filter((t) => t.isFinal)
    .map((t) => t.text)
    .join(' ');
}

describe('audio on disk', () => {
  it('watches the folder where this process and its children would put temporary files', () => {
    expect(tmpdir()).toBe(watched);
    expect(execFileSync('sh', ['-c', 'printf %s "$TMPDIR"'], { encoding: 'utf8' })).toBe(watched);
  });

  it.each([
    ['PCM16', () => wasm, () => pcm16, { encoding: 'pcm16', sampleRate: 16000, channels: 1 }],
    [
      'μ-law (phone audio)',
      () => wasm,
      () => mulaw,
      { encoding: 'mulaw', sampleRate: 8000, channels: 1 },
    ],
    [
      'WebM/Opus decoded in process',
      () => wasm,
      () => fixtures.liveWebm,
      { encoding: 'webm-opus', sampleRate: 48000, channels: 1 },
    ],
    [
      'Ogg/Opus decoded in process',
      () => wasm,
      () => fixtures.ogg,
      { encoding: 'ogg-opus', sampleRate: 48000, channels: 1 },
    ],
    [
      'WebM/Opus decoded by FFmpeg',
      () => ffmpeg,
      () => fixtures.liveWebm,
      { encoding: 'webm-opus', sampleRate: 48000, channels: 1 },
    ],
  ] as const)('is never written for a session of %s', async (_, server, audio, format) => {
    const text = await transcribe(server(), audio(), format);
    expect(text).not.toBe('');
    expect(readdirSync(watched)).toEqual([]);
  });
});
