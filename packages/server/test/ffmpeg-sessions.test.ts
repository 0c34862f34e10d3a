import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createLocalProvider } from '@earshot/providers/local';
import { speechFixtures } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import { WsProbe } from './ws-probe.js';

// Sessions that decode Opus with one FFmpeg each: FFmpeg dying mid-session costs the client
// one non-fatal error, not the session; and no FFmpeg outlives its session on any exit path.
const dir = mkdtempSync(join(tmpdir(), 'earshot-ffmpeg-sessions-'));
const provider = createLocalProvider({ maxConcurrentStreams: 2 });
let server: RunningServer;
let wsUrl: string;
let webm: Buffer;

/** The FFmpeg processes this test process has started and not yet reaped. */
function ffmpegChildren(): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), '-x', 'ffmpeg'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

async function until(test: () => boolean): Promise<void> {
  // Process exit is only observable by polling; each look is cheap and the loop is bounded.
  for (let i = 0; i < 200 && !test(); i++) await new Promise((r) => setTimeout(r, 25));
}

beforeAll(async () => {
  // A short resume grace: a vanished client's session (and its FFmpeg) outlives it that long.
  server = await listen({
    provider,
    port: 0,
    audio: { opusDecoder: 'ffmpeg' },
    limits: { resumeGraceSeconds: 1 },
  });
  wsUrl = `${server.url.replace('http', 'ws')}/v1/listen`;
  const [first, second] = await speechFixtures();
  const path = join(dir, 'speech.webm');
  await promisify(execFile)('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-i', first!.path, '-i', second!.path],
    ...[
      '-filter_complex',
      '[0:a][1:a]concat=n=2:v=0:a=1',
      '-c:a',
      'libopus',
      '-b:a',
      '32k',
      '-f',
      'webm',
      path,
    ],
  ]);
  webm = readFileSync(path);
});

afterAll(async () => {
  await server.close();
  await provider.close();
  rmSync(dir, { recursive: true, force: true });
});

async function startWebm(): Promise<WsProbe> {
  const probe = await WsProbe.open(wsUrl);
  probe.sendJson({
    type: 'start',
    audio: { encoding: 'webm-opus', sampleRate: 48000, channels: 1 },
  });
  await probe.next('ready');
  return probe;
}

describe('Opus sessions on FFmpeg', () => {
  it('survive FFmpeg being killed mid-session: one non-fatal error, and the words after it still arrive', async () => {
    const probe = await startWebm();
    const half = Math.floor(webm.byteLength / 2);
    for (let at = 0; at < half; at += 2048)
      probe.sendBinary(webm.subarray(at, Math.min(at + 2048, half)));
    await until(() => ffmpegChildren().length === 1);
    const [pid] = ffmpegChildren();
    process.kill(pid!, 'SIGKILL');
    const error = await probe.next('error');
    expect(error).toMatchObject({ code: 'audio_decoder_failed', fatal: false });
    expect(error.message).toMatch(/restart/);
    for (let at = half; at < webm.byteLength; at += 2048)
      probe.sendBinary(webm.subarray(at, at + 2048));
    const before = probe.messages.length;
    probe.sendJson({ type: 'stop' });
    const closed = await probe.next('closed', before);
    expect(closed.reason).toBe('stopped');
    // The second recording ("he was not ...") comes after the kill.
    const text = probe
      .of('transcript')
      .filter((t) => t.isFinal)
      .map((t) => t.text)
      .join(' ');
    expect(text).toMatch(/young man/);
    await until(() => ffmpegChildren().length === 0);
    expect(ffmpegChildren()).toEqual([]);
  });

  it('leave no FFmpeg behind when the client vanishes mid-stream (once the resume grace is over)', async () => {
    const probe = await startWebm();
    probe.sendBinary(webm.subarray(0, 8192));
    await until(() => ffmpegChildren().length === 1);
    expect(ffmpegChildren()).toHaveLength(1);
    probe.close(); // no stop, no close frame: the socket just goes away
    await until(() => ffmpegChildren().length === 0);
    expect(ffmpegChildren()).toEqual([]);
  });

  it('leave no FFmpeg behind when the server shuts down with sessions open', async () => {
    const own = await listen({ provider, port: 0, audio: { opusDecoder: 'ffmpeg' } });
    const probe = await WsProbe.open(`${own.url.replace('http', 'ws')}/v1/listen`);
    probe.sendJson({
      type: 'start',
      audio: { encoding: 'webm-opus', sampleRate: 48000, channels: 1 },
    });
    await probe.next('ready');
    probe.sendBinary(webm.subarray(0, 8192));
    await until(() => ffmpegChildren().length === 1);
    await own.close();
    expect((await probe.waitClosed()).code).toBe(1001);
    await until(() => ffmpegChildren().length === 0);
    expect(ffmpegChildren()).toEqual([]);
  });
});
