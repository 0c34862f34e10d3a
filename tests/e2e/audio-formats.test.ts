import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EarshotClient } from '@earshot/client';
import type { AudioFormat, TranscriptMessage } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import { createMemoryStore } from '@earshot/server';
import { listen, type RunningServer } from '@earshot/server/node';
import { referenceTranscript, speechFixtures, wordErrorRate } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The foundation's speech test for every input format the protocol carries: the same
// recording converted by sox/ffmpeg, streamed through the server's audio pipeline to the
// local engine (PCM16 16 kHz). Each run is scored against the 16 kHz PCM run of the same
// audio. Narrowband (8 kHz) audio has lost everything above 4 kHz, which the wideband en-us
// model needs: pocketsphinx_continuous itself does as badly on the same 8 kHz audio brought to
// 16 kHz by sox (that WER is reported beside ours), and its errors are chaotic, so narrowband
// runs only have to stay recognizable (some words right). The resampler's fidelity against
// sox is measured at the signal level (resampler tests, bench/audio-resampler.bench.ts).
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'earshot-formats-'));
const provider = createLocalProvider({ maxConcurrentStreams: 2 });
let wasmServer: RunningServer;
let ffmpegServer: RunningServer;
let source: string;
let reference: string;
const measured: string[] = [];

interface Case {
  readonly name: string;
  readonly declared: AudioFormat;
  /** Makes the file to send from the 16 kHz source. */
  readonly make: (out: string) => Promise<unknown>;
  readonly maxWer: number;
  readonly server?: 'ffmpeg';
  /** For narrowband input: the same 8 kHz audio as a 16 kHz WAV made by sox, for comparison. */
  readonly narrowband?: (out: string) => Promise<unknown>;
}

// -D: no dither. sox dithers with fresh random noise by default, which would make every run's
// input, and so its words, a little different.
const sox = (...args: string[]) => run('sox', ['-D', source, ...args]);
const ffmpeg = (...args: string[]) =>
  run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', source, ...args]);
async function soxVia8k(encoding: string[], out: string) {
  const narrow = `${out}.8k.wav`;
  await sox('-r', '8000', ...encoding, narrow);
  await run('sox', ['-D', narrow, '-e', 'signed', '-b', '16', '-r', '16000', out]);
}
const pcm = (sampleRate: number, channels = 1): AudioFormat => ({
  encoding: 'pcm16',
  sampleRate,
  channels,
});

const cases: Case[] = [
  { name: 'PCM16 16 kHz', declared: pcm(16000), make: (o) => sox('-t', 'raw', o), maxWer: 0 },
  {
    name: 'PCM16 8 kHz',
    declared: pcm(8000),
    make: (o) => sox('-r', '8000', '-t', 'raw', o),
    maxWer: 0.9,
    narrowband: (o) => soxVia8k([], o),
  },
  {
    name: 'PCM16 24 kHz',
    declared: pcm(24000),
    make: (o) => sox('-r', '24000', '-t', 'raw', o),
    maxWer: 0.25,
  },
  {
    name: 'PCM16 44.1 kHz',
    declared: pcm(44100),
    make: (o) => sox('-r', '44100', '-t', 'raw', o),
    maxWer: 0.25,
  },
  {
    name: 'PCM16 48 kHz',
    declared: pcm(48000),
    make: (o) => sox('-r', '48000', '-t', 'raw', o),
    maxWer: 0.25,
  },
  {
    name: 'PCM16 48 kHz stereo',
    declared: pcm(48000, 2),
    make: (o) => sox('-r', '48000', '-c', '2', '-t', 'raw', o),
    maxWer: 0.25,
  },
  {
    name: 'μ-law 8 kHz',
    declared: { encoding: 'mulaw', sampleRate: 8000, channels: 1 },
    make: (o) => sox('-r', '8000', '-e', 'mu-law', '-t', 'raw', o),
    maxWer: 0.9,
    narrowband: (o) => soxVia8k(['-e', 'mu-law'], o),
  },
  {
    name: 'A-law 8 kHz',
    declared: { encoding: 'alaw', sampleRate: 8000, channels: 1 },
    make: (o) => sox('-r', '8000', '-e', 'a-law', '-t', 'raw', o),
    maxWer: 0.9,
    narrowband: (o) => soxVia8k(['-e', 'a-law'], o),
  },
  {
    name: 'WAV 44.1 kHz declared as wav',
    declared: { encoding: 'wav', sampleRate: 16000, channels: 1 },
    make: (o) => sox('-r', '44100', '-t', 'wav', o),
    maxWer: 0.25,
  },
  {
    name: 'WAV file sent as PCM16 (header sniffed)',
    declared: pcm(16000),
    make: (o) => sox('-t', 'wav', o),
    maxWer: 0,
  },
  {
    name: 'WebM/Opus (in-process)',
    declared: { encoding: 'webm-opus', sampleRate: 48000, channels: 1 },
    make: (o) => ffmpeg('-c:a', 'libopus', '-b:a', '32k', '-f', 'webm', o),
    maxWer: 0.25,
  },
  {
    name: 'Ogg/Opus (in-process)',
    declared: { encoding: 'ogg-opus', sampleRate: 48000, channels: 1 },
    make: (o) => ffmpeg('-c:a', 'libopus', '-b:a', '32k', '-f', 'ogg', o),
    maxWer: 0.25,
  },
  {
    name: 'WebM/Opus (FFmpeg)',
    declared: { encoding: 'webm-opus', sampleRate: 48000, channels: 1 },
    make: (o) => ffmpeg('-c:a', 'libopus', '-b:a', '32k', '-f', 'webm', o),
    maxWer: 0.25,
    server: 'ffmpeg',
  },
];

beforeAll(async () => {
  const [first, second] = await speechFixtures();
  source = join(dir, 'source.wav');
  // Two recordings with a pause between them: two utterances, about ten seconds.
  await run('sox', [first!.path, second!.path, source, 'pad', '0', '0.5']);
  reference = (await referenceTranscript(source)).join(' ');
  wasmServer = await listen({ provider, store: createMemoryStore(), port: 0 });
  ffmpegServer = await listen({
    provider,
    store: createMemoryStore(),
    port: 0,
    audio: { opusDecoder: 'ffmpeg' },
  });
});

afterAll(async () => {
  console.log(
    `WER against the 16 kHz PCM reference, per input format:\n  ${measured.join('\n  ')}`,
  );
  await wasmServer.close();
  await ffmpegServer.close();
  await provider.close();
  rmSync(dir, { recursive: true, force: true });
});

async function transcribe(server: RunningServer, declared: AudioFormat, bytes: Uint8Array) {
  const client = new EarshotClient({ url: `${server.url.replace('http', 'ws')}/v1/listen` });
  const finals: TranscriptMessage[] = [];
  const errors: string[] = [];
  client.on('transcript', (t) => t.isFinal && finals.push(t));
  client.on('error', (e) => errors.push(e.code));
  const ready = await client.start({ audio: declared });
  // 4 KB frames: for raw formats whole samples, for containers arbitrary cuts, as
  // MediaRecorder makes them.
  for (let at = 0; at < bytes.byteLength; at += 4096)
    client.sendAudio(bytes.subarray(at, at + 4096));
  const closed = await client.stop();
  return { ready, closed, errors, text: finals.map((f) => f.text).join(' ') };
}

describe('every input format reaches the local engine through the audio pipeline', () => {
  it.each(cases)('$name', async (c) => {
    const file = join(dir, `${c.name.replace(/\W+/g, '-')}.bin`);
    await c.make(file);
    const server = c.server === 'ffmpeg' ? ffmpegServer : wasmServer;
    const { ready, closed, errors, text } = await transcribe(
      server,
      c.declared,
      readFileSync(file),
    );
    const wer = wordErrorRate(reference, text);
    let line = `${c.name.padEnd(40)} WER ${wer.toFixed(3)}`;
    if (c.narrowband) {
      const soxMade = join(dir, `${c.name.replace(/\W+/g, '-')}.sox16k.wav`);
      await c.narrowband(soxMade);
      const soxWer = wordErrorRate(reference, (await referenceTranscript(soxMade)).join(' '));
      line += ` (pocketsphinx_continuous on sox's 8→16 kHz: ${soxWer.toFixed(3)})`;
    }
    measured.push(`${line}  (${ready.conversion})`);
    expect(errors).toEqual([]);
    expect(ready.providerAudio).toEqual(pcm(16000));
    expect(closed.summary.audioSeconds).toBeGreaterThan(9);
    expect(wer, `${c.name}\n ref: ${reference}\n got: ${text}`).toBeLessThanOrEqual(c.maxWer);
  });
});
