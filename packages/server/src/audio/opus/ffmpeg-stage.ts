import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { type AudioFormat, EarshotError } from '@earshot/protocol';
import { ContainerSessionAudio } from '@earshot/providers/resilient';
import type { AudioSink, AudioStage } from '../audio-stage.js';

/** The containers {@link FfmpegOpusStage} reads. */
export type OpusContainer = 'webm' | 'ogg';

/** Options of {@link FfmpegOpusStage}. */
export interface FfmpegOpusStageOptions {
  /** The container of the input bytes. */
  readonly container: OpusContainer;
  /** The rate FFmpeg resamples to. Defaults to 48000, what the in-process stage emits. */
  readonly outputSampleRate?: number;
  /** The FFmpeg executable. Defaults to `ffmpeg` on the `PATH`. */
  readonly ffmpegPath?: string;
  /** How long {@link FfmpegOpusStage.end} waits for FFmpeg before killing it. 10 s. */
  readonly endTimeoutMs?: number;
  /**
   * How many times in a row FFmpeg is started again after dying before the stage gives up; a
   * run of FFmpeg that decodes 10 s of audio resets the count. 5.
   */
  readonly maxRestarts?: number;
  /**
   * Input held for a restarted FFmpeg (what the running one has not decoded yet), and queued
   * for FFmpeg when it is behind, at most; beyond it the oldest input is dropped, and a chunk
   * FFmpeg cannot take is dropped and reported. 1 MiB.
   */
  readonly maxPendingBytes?: number;
}

const MAX_STDERR_BYTES = 4096;
// Opus's ceiling, 510 kbit/s: how many seconds of input `maxPendingBytes` holds at least.
const MAX_OPUS_BYTES_PER_SECOND = 64_000;
// An FFmpeg that decoded this much audio has recovered: its restarts in a row start over.
const RECOVERED_AFTER_SECONDS = 10;
// Input already decoded is forgotten in steps of this much audio, not on every read.
const TRIM_EVERY_SECONDS = 1;

interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  /** Set on 'exit': its stdin no longer takes bytes. */
  exited: boolean;
  /** Set on 'close': exited, reaped and its pipes drained. */
  closed: boolean;
  readonly whenClosed: Promise<void>;
  stderr: string;
  stderrReported: boolean;
  producedOutput: boolean;
  /** A byte of a sample split across reads of stdout. */
  carry: number | undefined;
  /** Killed by this stage (destroy, end timeout): its exit is expected. */
  killed: boolean;
  /** Output bytes still to drop: audio the FFmpeg before it had already emitted. */
  skipBytes: number;
  /** Bytes this FFmpeg emitted (after `skipBytes`). */
  emitted: number;
}

/**
 * Decodes WebM/Opus or Ogg/Opus to PCM16 mono with one FFmpeg child process per session,
 * never shared between sessions (a shared one mixes conversations):
 * `ffmpeg -f webm|ogg -i pipe:0 -f s16le -ac 1 -ar <rate> pipe:1`. Input goes to its stdin,
 * its stdout to `sink.data`, whole samples only.
 *
 * It survives FFmpeg dying (a signal, the OOM killer, an early exit): FFmpeg is started again
 * and given the container header, then the input from the last WebM block or Ogg page at or
 * before what the dead one had emitted (the stage indexes its input as it arrives, and keeps
 * what is not decoded yet); output the dead one had already emitted is dropped from the new
 * one's. So no audio is lost and the session's clock is unbroken: the output is the same
 * samples, give or take one Opus frame at the join. Audio that could not be replayed (beyond
 * `maxPendingBytes`) becomes silence of the same length, so later transcript times stay true.
 * Each restart is reported as a non-fatal `audio_decoder_failed`; an FFmpeg that keeps dying
 * (`maxRestarts` in a row) or cannot be started is a fatal one. FFmpeg rejecting the input is
 * `invalid_audio`. Children are always killed and reaped: on {@link FfmpegOpusStage.destroy},
 * when {@link FfmpegOpusStage.end} times out, and when the stage gives up.
 *
 * @example
 * ```ts
 * const stage = new FfmpegOpusStage({ data: (pcm) => provider.write(pcm), error: report }, {
 *   container: 'webm',
 *   outputSampleRate: 16000,
 * });
 * stage.write(firstMediaRecorderChunk);
 * await stage.end();
 * ```
 */
export class FfmpegOpusStage implements AudioStage {
  /** PCM16 mono at `outputSampleRate`. */
  readonly output: AudioFormat;
  private child: Child | undefined;
  /** The input not decoded yet, indexed by block (WebM) or page (Ogg), header kept. */
  private readonly input: ContainerSessionAudio;
  /** Bytes emitted to the sink, silence for lost audio included: the stage's clock. */
  private emitted = 0;
  private trimmedAt = 0;
  private restartCount = 0;
  private restartsInARow = 0;
  private ending = false;
  private destroyed = false;
  private failed = false;
  private endWaiters: (() => void)[] = [];
  private endTimer: NodeJS.Timeout | undefined;
  private readonly ffmpegPath: string;
  private readonly endTimeoutMs: number;
  private readonly maxRestarts: number;
  private readonly maxPendingBytes: number;

  constructor(
    private readonly sink: AudioSink,
    private readonly options: FfmpegOpusStageOptions,
  ) {
    this.output = {
      encoding: 'pcm16',
      sampleRate: options.outputSampleRate ?? 48000,
      channels: 1,
    };
    this.ffmpegPath = options.ffmpegPath ?? 'ffmpeg';
    this.endTimeoutMs = options.endTimeoutMs ?? 10_000;
    this.maxRestarts = options.maxRestarts ?? 5;
    this.maxPendingBytes = options.maxPendingBytes ?? 1024 * 1024;
    this.input = new ContainerSessionAudio(
      options.container === 'webm' ? 'webm-opus' : 'ogg-opus',
      this.maxPendingBytes / MAX_OPUS_BYTES_PER_SECOND,
    );
    this.child = this.spawnChild();
  }

  /** The current FFmpeg's process id (it changes on a restart); for tests and metrics. */
  get pid(): number | undefined {
    return this.child?.process.pid;
  }

  /** How many times FFmpeg was restarted after dying. */
  get restarts(): number {
    return this.restartCount;
  }

  /** Seconds of audio emitted so far (silence standing in for audio lost included). */
  get seconds(): number {
    return this.emitted / 2 / this.output.sampleRate;
  }

  /** Feeds container bytes split anywhere. Never throws. */
  write(chunk: Uint8Array): void {
    if (this.destroyed || this.failed || this.ending || chunk.byteLength === 0) return;
    // Copied once: kept for a restart and queued on FFmpeg's stdin, while the caller may
    // reuse its buffer.
    const bytes = chunk.slice();
    this.input.push(bytes, 0);
    const child = this.child;
    // Between a crash and its restart: the next FFmpeg is given it from `input`.
    if (child === undefined || child.exited) return;
    if (child.process.stdin.writableLength > this.maxPendingBytes) {
      this.sink.error(
        new EarshotError(
          'internal',
          'FFmpeg is not keeping up with the audio; a chunk was dropped',
        ),
      );
      return;
    }
    child.process.stdin.write(bytes);
  }

  /**
   * Closes FFmpeg's stdin and resolves once its stdout has ended and it has exited, so
   * everything it decoded has been emitted. Kills it after `endTimeoutMs`.
   */
  end(): Promise<void> {
    if (this.destroyed) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.endWaiters.push(resolve));
    if (this.ending) return done;
    this.ending = true;
    const child = this.child;
    if (child === undefined || child.closed || this.failed) {
      this.finish();
      return done;
    }
    if (!child.exited) child.process.stdin.end();
    this.endTimer = setTimeout(() => {
      const current = this.child;
      if (current === undefined || current.closed) return;
      this.sink.error(
        new EarshotError('timeout', `FFmpeg did not finish within ${this.endTimeoutMs} ms; killed`),
      );
      this.kill(current);
    }, this.endTimeoutMs);
    return done;
  }

  /** Kills FFmpeg at once (SIGKILL) and drops everything held. See {@link FfmpegOpusStage.closed}. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.child !== undefined) this.kill(this.child);
    this.finish();
  }

  /** Resolves once no FFmpeg of this stage is running: exited and reaped. */
  async closed(): Promise<void> {
    while (this.child !== undefined && !this.child.closed) await this.child.whenClosed;
  }

  private spawnChild(): Child | undefined {
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      this.options.container,
      '-i',
      'pipe:0',
      '-f',
      's16le',
      '-ac',
      '1',
      '-ar',
      String(this.output.sampleRate),
      'pipe:1',
    ];
    let process: ChildProcessWithoutNullStreams;
    try {
      process = spawn(this.ffmpegPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (cause) {
      this.giveUp(
        new EarshotError('audio_decoder_failed', 'FFmpeg could not be started', {
          cause,
          fatal: true,
        }),
      );
      return undefined;
    }
    let markClosed: () => void = () => {};
    const child: Child = {
      process,
      exited: false,
      closed: false,
      whenClosed: new Promise<void>((resolve) => {
        markClosed = resolve;
      }),
      stderr: '',
      stderrReported: false,
      producedOutput: false,
      carry: undefined,
      killed: false,
      skipBytes: 0,
      emitted: 0,
    };
    // EPIPE/ECONNRESET when FFmpeg dies with bytes unread: its exit is handled on 'close'.
    process.stdin.on('error', () => {});
    process.stdout.on('data', (data: Buffer) => this.onStdout(child, data));
    process.stderr.on('data', (data: Buffer) => this.onStderr(child, data));
    process.on('exit', () => {
      child.exited = true;
    });
    process.on('error', (cause: NodeJS.ErrnoException) => {
      // Spawning failed (no FFmpeg on the PATH): no restart can help.
      if (process.pid === undefined) {
        child.exited = true;
        this.giveUp(
          new EarshotError(
            'audio_decoder_failed',
            `FFmpeg could not be started: ${cause.message}`,
            {
              cause,
              fatal: true,
            },
          ),
        );
      }
    });
    process.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      child.exited = true;
      child.closed = true;
      markClosed();
      this.onClose(child, code, signal);
    });
    return child;
  }

  private onStdout(child: Child, data: Buffer): void {
    if (this.destroyed || child !== this.child) return;
    child.producedOutput = true;
    let bytes: Uint8Array = data;
    if (child.carry !== undefined) {
      const joined = new Uint8Array(data.byteLength + 1);
      joined[0] = child.carry;
      joined.set(data, 1);
      bytes = joined;
      child.carry = undefined;
    }
    // Emit whole samples only: a later stage may read them as an Int16Array.
    if (bytes.byteLength % 2 === 1) {
      child.carry = bytes[bytes.byteLength - 1];
      bytes = bytes.subarray(0, bytes.byteLength - 1);
    }
    if (child.skipBytes > 0) {
      // A restarted FFmpeg's first samples: the one before it had emitted them already.
      const skip = Math.min(child.skipBytes, bytes.byteLength);
      child.skipBytes -= skip;
      bytes = bytes.subarray(skip);
    }
    if (bytes.byteLength === 0) return;
    this.emit(bytes);
    child.emitted += bytes.byteLength;
    if (child.emitted >= RECOVERED_AFTER_SECONDS * 2 * this.output.sampleRate) {
      this.restartsInARow = 0;
    }
    // What FFmpeg has emitted it will never need again: only a block or page at or before
    // the current point is kept for a restart.
    const seconds = this.seconds;
    if (seconds - this.trimmedAt >= TRIM_EVERY_SECONDS) {
      this.trimmedAt = seconds;
      this.input.trimBefore(seconds);
    }
  }

  private emit(bytes: Uint8Array): void {
    this.emitted += bytes.byteLength;
    this.sink.data(bytes);
  }

  private onStderr(child: Child, data: Buffer): void {
    if (child.stderr.length < MAX_STDERR_BYTES) child.stderr += data.toString('utf8');
    // Before any output, an error is more likely a rejection, reported once on exit as such.
    if (this.destroyed || child.killed || child.stderrReported || this.ending) return;
    if (!child.producedOutput) return;
    const line = child.stderr.indexOf('\n');
    if (line < 0) return;
    // FFmpeg logs (at level error) bytes it cannot demux and goes on: one report per process.
    child.stderrReported = true;
    this.sink.error(
      new EarshotError('invalid_audio', `FFmpeg: ${child.stderr.slice(0, line).trim()}`),
    );
  }

  private onClose(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    if (this.destroyed || this.failed || child.killed) {
      this.finish();
      return;
    }
    const stderr = child.stderr.trim();
    if (this.ending && signal === null) {
      // Normal end. FFmpeg still logs what it could not decode (e.g. a truncated stream).
      if ((code !== 0 || stderr !== '') && !child.stderrReported) {
        this.sink.error(
          new EarshotError(
            'invalid_audio',
            `FFmpeg could not decode the stream to its end (exit ${code}): ${firstLine(stderr)}`,
          ),
        );
      }
      this.finish();
      return;
    }
    if (signal === null && code !== 0) {
      // FFmpeg refused the input. Unless it had decoded some of it (so the header is good
      // and the rest may be too), a new FFmpeg would refuse it the same way.
      const message = `FFmpeg rejected the audio (exit ${code}): ${firstLine(stderr) || 'no message'}`;
      if (!child.producedOutput || this.restartsInARow >= this.maxRestarts) {
        this.giveUp(new EarshotError('invalid_audio', message, { fatal: true }));
        return;
      }
      if (!child.stderrReported) this.sink.error(new EarshotError('invalid_audio', message));
      // What it choked on would choke the next one too: it starts at the newest input.
      this.restart(this.input.seconds);
      return;
    }
    // Killed, crashed, or exited cleanly before the end of the input: it is not the audio.
    const how = signal ?? `exit ${code}`;
    if (this.restartsInARow >= this.maxRestarts) {
      this.giveUp(
        new EarshotError(
          'audio_decoder_failed',
          `the audio decoder (FFmpeg) stopped unexpectedly (${how}) ${this.restartsInARow + 1} times in a row; giving up`,
          { fatal: true },
        ),
      );
      return;
    }
    const at = this.seconds;
    const lost = this.restart(at);
    if (this.failed) return;
    this.sink.error(
      new EarshotError(
        'audio_decoder_failed',
        lost > 0
          ? `the audio decoder (FFmpeg) stopped unexpectedly (${how}); restarted, and ${lost.toFixed(2)} s of audio from ${at.toFixed(2)} s could not be replayed (silence stands in)`
          : `the audio decoder (FFmpeg) stopped unexpectedly (${how}); restarted at ${at.toFixed(2)} s of audio, nothing lost`,
      ),
    );
  }

  /**
   * Starts a new FFmpeg on the container header and the input from the last block or page at
   * or before `from` seconds. Resolves the seconds of audio that could not be replayed.
   */
  private restart(from: number): number {
    this.restartCount++;
    this.restartsInARow++;
    const replay = this.input.replay(from);
    const child = this.spawnChild();
    if (child === undefined) return 0;
    this.child = child;
    const rate = this.output.sampleRate;
    const now = this.emitted / 2;
    const start = Math.round(replay.start * rate);
    let lost = 0;
    if (start <= now) {
      child.skipBytes = (now - start) * 2;
    } else {
      // Audio no FFmpeg will decode: silence of its length keeps every later time true.
      lost = (start - now) / rate;
      this.emit(new Uint8Array((start - now) * 2));
    }
    for (const chunk of replay.chunks) child.process.stdin.write(chunk);
    if (this.ending) child.process.stdin.end();
    return lost;
  }

  private kill(child: Child): void {
    child.killed = true;
    if (!child.exited) child.process.kill('SIGKILL');
  }

  private giveUp(error: EarshotError): void {
    if (this.failed) return;
    this.failed = true;
    if (this.child !== undefined) this.kill(this.child);
    this.sink.error(error);
    this.finish();
  }

  private finish(): void {
    if (this.endTimer !== undefined) clearTimeout(this.endTimer);
    this.endTimer = undefined;
    const waiters = this.endWaiters;
    this.endWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function firstLine(text: string): string {
  const line = text.indexOf('\n');
  return line < 0 ? text : text.slice(0, line);
}
