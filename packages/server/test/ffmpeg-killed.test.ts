import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ErrorMessage, TranscriptMessage } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import {
  countResources,
  leftoverResources,
  processAlive,
  speechWithPauses,
  toLiveWebm,
  until,
  wordErrorRate,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import { createMemoryStore } from '../src/stores/memory-store.js';
import { WsProbe } from './ws-probe.js';

// FFmpeg, the per-session Opus decoder, is SIGKILLed in the middle of a live session that
// streams MediaRecorder-style WebM/Opus of real speech. What "survived" means here:
//
// - the process does not crash and the session does not hang: it goes on, and `stop` ends it
//   with every final stored;
// - a new FFmpeg takes over where the dead one stopped (the container header, then the input
//   from the last block it had not decoded): the transcript after the kill is the one an
//   unbroken session gives, at the same times (no audio lost, the session clock unbroken);
// - the client is told once, with a non-fatal `audio_decoder_failed`;
// - an FFmpeg that keeps dying ends the session cleanly with a fatal `audio_decoder_failed`,
//   its finals stored;
// - no FFmpeg, socket or timer is left behind.
//
// The recording is muxed with 30 s clusters, as a browser's MediaRecorder writes audio without
// a timeslice: before the fix a restart skipped to the next cluster, here the rest of the
// session, and every word after the kill was lost.
// One 250 ms MediaRecorder chunk every 250 ms: real time, as a microphone sends it (faster,
// a loaded machine's engine falls behind and the provider's end deadline drops the backlog).
const CHUNK_SECONDS = 0.25;
const PACE_MS = CHUNK_SECONDS * 1000;
const store = createMemoryStore();
const provider = createLocalProvider({ maxConcurrentStreams: 2 });
const dir = mkdtempSync(join(tmpdir(), 'earshot-ffmpeg-killed-'));
const unexpected: unknown[] = [];
const recordUnexpected = (error: unknown) => void unexpected.push(error);
let server: RunningServer;
let wsUrl: string;
let webm: Uint8Array;
let chunks: Uint8Array[];
let baseline: TranscriptMessage[];

/** The FFmpeg processes this test process has started and not reaped, from /proc. */
function ffmpegChildren(): number[] {
  const pids: number[] = [];
  for (const task of readdirSync(`/proc/${process.pid}/task`)) {
    let children: string;
    try {
      children = readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8');
    } catch {
      continue; // the thread ended while we looked
    }
    for (const pid of children.split(' ').filter(Boolean).map(Number)) {
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'ffmpeg') pids.push(pid);
      } catch {
        // reaped meanwhile
      }
    }
  }
  return pids;
}

/** The one FFmpeg of the session under test, once it runs (and is not `not`). */
async function sessionFfmpeg(not?: number): Promise<number> {
  let pid: number | undefined;
  await until(() => {
    const found = ffmpegChildren().filter((p) => p !== not);
    pid = found.length === 1 ? found[0] : undefined;
    return pid !== undefined;
  }, 20_000);
  return pid!;
}

/** `chunks` cut from the WebM as MediaRecorder hands them out: every `seconds` of audio. */
function mediaRecorderChunks(bytes: Uint8Array, seconds: number, totalSeconds: number) {
  const size = Math.ceil((bytes.byteLength / totalSeconds) * seconds);
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

async function startSession(): Promise<{ probe: WsProbe; sessionId: string }> {
  const probe = await WsProbe.open(wsUrl);
  probe.sendJson({
    type: 'start',
    audio: { encoding: 'webm-opus', sampleRate: 48000, channels: 1 },
  });
  const ready = await probe.next('ready');
  return { probe, sessionId: ready.sessionId };
}

const finalsOf = (probe: WsProbe) =>
  probe.of('transcript').filter((t) => t.isFinal && t.text !== '');
const textOf = (finals: readonly TranscriptMessage[]) => finals.map((f) => f.text).join(' ');
const pause = () => new Promise((resolve) => setTimeout(resolve, PACE_MS));

beforeAll(async () => {
  process.on('unhandledRejection', recordUnexpected);
  process.on('uncaughtException', recordUnexpected);
  server = await listen({ provider, store, port: 0, audio: { opusDecoder: 'ffmpeg' } });
  wsUrl = `${server.url.replace('http', 'ws')}/v1/listen`;
  // Three LibriVox recordings (about 19 s), each followed by a pause: a final every few seconds.
  const pcm = await speechWithPauses(3, 0.8);
  writeFileSync(join(dir, 'speech.raw'), pcm);
  await promisify(execFile)('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 's16le', '-ar', '16000', '-ac', '1', '-i', join(dir, 'speech.raw')],
    ...['-c:a', 'libopus', '-b:a', '32k', '-cluster_time_limit', '30000'],
    ...['-f', 'webm', join(dir, 'speech.webm')],
  ]);
  webm = toLiveWebm(new Uint8Array(readFileSync(join(dir, 'speech.webm'))));
  chunks = mediaRecorderChunks(webm, CHUNK_SECONDS, pcm.byteLength / 32_000);

  // The same audio, unbroken: what the session must still say after FFmpeg is killed.
  const { probe } = await startSession();
  for (const chunk of chunks) {
    probe.sendBinary(chunk);
    await pause();
  }
  probe.sendJson({ type: 'stop' });
  await probe.next('closed');
  await probe.waitClosed();
  baseline = finalsOf(probe);
  await until(() => ffmpegChildren().length === 0, 20_000);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await provider.close();
  rmSync(dir, { recursive: true, force: true });
  process.off('unhandledRejection', recordUnexpected);
  process.off('uncaughtException', recordUnexpected);
});

describe('FFmpeg killed mid-session', () => {
  it('is restarted where it stopped: the transcript goes on as if nothing happened, and nothing is left behind', async () => {
    expect(baseline.length).toBeGreaterThanOrEqual(3);
    const before = countResources();
    const { probe, sessionId } = await startSession();
    const killAt = Math.floor(chunks.length * 0.45);
    let killed: number | undefined;
    for (let i = 0; i < chunks.length; i++) {
      if (i === killAt) {
        // Mid-session, mid-cluster, with audio still arriving.
        killed = await sessionFfmpeg();
        process.kill(killed, 'SIGKILL');
      }
      probe.sendBinary(chunks[i]!);
      await pause();
    }
    const restarted = await sessionFfmpeg(killed);
    expect(processAlive(killed!)).toBe(false);
    const sent = probe.messages.length;
    probe.sendJson({ type: 'stop' });
    const closed = await probe.next('closed', sent);
    expect(closed.reason).toBe('stopped');
    expect((await probe.waitClosed()).code).toBe(1000);

    // Told once, not fatal.
    const errors = probe.of('error') as ErrorMessage[];
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'audio_decoder_failed', fatal: false });
    expect(errors[0]!.message).toMatch(/SIGKILL.*nothing lost/);

    // The same words as the unbroken session, at the same times: the words after the kill
    // were decoded, and the clock did not skip.
    const finals = finalsOf(probe);
    const wer = wordErrorRate(textOf(baseline), textOf(finals));
    console.log(
      `FFmpeg killed at ${((killAt * 100) / chunks.length).toFixed(0)}% of the audio: ${finals.length} finals (unbroken: ${baseline.length}), WER ${wer.toFixed(3)} against the unbroken session`,
    );
    expect(wer).toBeLessThan(0.15);
    const killedAtSeconds = killAt * CHUNK_SECONDS;
    const after = finals.filter((f) => f.start > killedAtSeconds);
    const baselineAfter = baseline.filter((f) => f.start > killedAtSeconds);
    expect(after.length).toBeGreaterThan(0);
    expect(textOf(after).split(' ').length).toBeGreaterThanOrEqual(
      textOf(baselineAfter).split(' ').length * 0.8,
    );
    // The clock did not skip: each word after the kill starts when the same word does in the
    // unbroken session (the median difference, against the nearest same word).
    const baselineWords = baselineAfter.flatMap((f) => f.words);
    const offsets = after
      .flatMap((f) => f.words)
      .map((w) =>
        Math.min(
          ...baselineWords.filter((b) => b.word === w.word).map((b) => Math.abs(b.start - w.start)),
        ),
      )
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    expect(offsets.length).toBeGreaterThan(5);
    expect(offsets[offsets.length >> 1]).toBeLessThan(0.1);

    // Every final the client saw is stored.
    const stored = await store.getSegments(sessionId);
    expect(stored.map((s) => [s.segmentId, s.text])).toEqual(
      probe
        .of('transcript')
        .filter((t) => t.isFinal)
        .map((t) => [t.segmentId, t.text]),
    );
    expect((await store.getSession(sessionId))?.endReason).toBe('stopped');

    // Nothing left: no FFmpeg (neither the killed one nor its successor), no socket, no timer.
    await until(() => ffmpegChildren().length === 0, 20_000);
    expect(processAlive(restarted)).toBe(false);
    expect(await leftoverResources(before, { timeoutMs: 10_000 })).toEqual([]);
    expect(unexpected).toEqual([]);
  }, 120_000);

  it('ends the session cleanly with a fatal audio_decoder_failed when FFmpeg keeps dying, its finals stored', async () => {
    const before = countResources();
    const { probe, sessionId } = await startSession();
    // Most of the audio, then the first finals: the session has something to keep.
    let i = 0;
    for (; i < chunks.length * 0.6; i++) {
      probe.sendBinary(chunks[i]!);
      await pause();
    }
    await until(() => finalsOf(probe).length >= 1, 30_000);
    // Then FFmpeg dies each time it is started again, until the stage gives up (5 in a row).
    const gaveUp = () => probe.of('error').some((e) => e.fatal) || probe.closed !== undefined;
    const successor = () => ffmpegChildren().find((p) => !pids.includes(p));
    const pids: number[] = [];
    let pid: number | undefined = await sessionFfmpeg();
    while (pid !== undefined) {
      pids.push(pid);
      process.kill(pid, 'SIGKILL');
      if (i < chunks.length) probe.sendBinary(chunks[i++]!);
      await until(() => gaveUp() || successor() !== undefined, 20_000);
      pid = gaveUp() ? undefined : successor();
    }
    const closed = await probe.next('closed');
    expect(closed.reason).toBe('error');
    const fatal = (probe.of('error') as ErrorMessage[]).filter((e) => e.fatal);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ code: 'audio_decoder_failed' });
    expect(fatal[0]!.message).toMatch(/6 times in a row; giving up/);
    expect(pids).toHaveLength(6);
    // Closed by the server with a close frame, as its own failure (1011), not the audio's (1003).
    expect((await probe.waitClosed()).code).toBe(1011);

    // What it had finalised before is stored, and the session is recorded as failed.
    const stored = await store.getSegments(sessionId);
    const seen = probe.of('transcript').filter((t) => t.isFinal);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(stored.map((s) => s.segmentId)).toEqual(seen.map((t) => t.segmentId));
    expect((await store.getSession(sessionId))?.endReason).toBe('error');

    await until(() => ffmpegChildren().length === 0, 20_000);
    expect(pids.filter(processAlive)).toEqual([]);
    expect(await leftoverResources(before, { timeoutMs: 10_000 })).toEqual([]);
    expect(unexpected).toEqual([]);
  }, 120_000);
});
