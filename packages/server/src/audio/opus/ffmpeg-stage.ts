import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { type AudioFormat, EarshotError } from '@earshot/protocol';
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
  /** How many times FFmpeg is restarted after a crash before the stage gives up. 5. */
  readonly maxRestarts?: number;
  /**
   * Input held while FFmpeg restarts or is behind, at most; beyond it chunks are dropped and
   * reported. 1 MiB.
   */
  readonly maxPendingBytes?: number;
}

// The container header is kept to replay it to a restarted FFmpeg; real ones are a few
// hundred bytes (WebM EBML+Segment+Tracks; Ogg OpusHead+OpusTags pages).
const MAX_HEADER_BYTES = 64 * 1024;
const MAX_STDERR_BYTES = 4096;
const WEBM_CLUSTER_ID = 0x1f43b675;
const WEBM_SEGMENT_ID = [0x18, 0x53, 0x80, 0x67];
const OGG_CAPTURE = 0x4f676753; // "OggS"

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
}

/**
 * Decodes WebM/Opus or Ogg/Opus to PCM16 mono with one FFmpeg child process per session,
 * never shared between sessions (a shared one mixes conversations):
 * `ffmpeg -f webm|ogg -i pipe:0 -f s16le -ac 1 -ar <rate> pipe:1`. Input goes to its stdin,
 * its stdout to `sink.data`, whole samples only.
 *
 * It survives FFmpeg dying: a crash (a signal, or an early exit) is reported as a non-fatal
 * `internal` error and FFmpeg is started again with the container header kept from the start
 * of the stream replayed first, so the chunks that follow still decode; at most what was in
 * flight is lost. FFmpeg rejecting the input is `invalid_audio`. Children are always killed
 * and reaped: on {@link FfmpegOpusStage.destroy}, and when {@link FfmpegOpusStage.end} times out.
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
  private readonly header: HeaderCapture;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private restartCount = 0;
  /** After a restart: input is dropped up to the next Cluster / page, where FFmpeg can resume. */
  private resyncing = false;
  private resyncWindow = 0;
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
    this.header = new HeaderCapture(options.container);
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

  /** Feeds container bytes split anywhere. Never throws. */
  write(chunk: Uint8Array): void {
    if (this.destroyed || this.failed || this.ending || chunk.byteLength === 0) return;
    this.header.feed(chunk);
    this.send(chunk);
  }

  private send(input: Uint8Array): void {
    let chunk = input;
    const child = this.child;
    if (child === undefined || child.exited) {
      // Between a crash and its restart: hold the bytes for the next FFmpeg.
      this.hold(chunk);
      return;
    }
    if (this.resyncing) {
      const from = this.resyncFrom(chunk);
      if (from === undefined) return;
      child.process.stdin.write(this.syncBytes());
      chunk = chunk.subarray(from);
    }
    if (child.process.stdin.writableLength > this.maxPendingBytes) {
      this.sink.error(
        new EarshotError(
          'internal',
          'FFmpeg is not keeping up with the audio; a chunk was dropped',
        ),
      );
      return;
    }
    child.process.stdin.write(chunk);
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
    if (child === undefined || child.closed) {
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
    this.pending = [];
    this.pendingBytes = 0;
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
        new EarshotError('internal', 'FFmpeg could not be started', { cause, fatal: true }),
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
          new EarshotError('internal', `FFmpeg could not be started: ${cause.message}`, {
            cause,
            fatal: true,
          }),
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
    if (bytes.byteLength > 0) this.sink.data(bytes);
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
    if (this.ending && signal === null && this.pending.length === 0) {
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
      if (!child.producedOutput || this.restartCount >= this.maxRestarts) {
        this.giveUp(new EarshotError('invalid_audio', message, { fatal: true }));
        return;
      }
      if (!child.stderrReported) this.sink.error(new EarshotError('invalid_audio', message));
    } else {
      if (this.restartCount >= this.maxRestarts) {
        this.giveUp(
          new EarshotError(
            'internal',
            `audio decoder (FFmpeg) died ${this.restartCount + 1} times; giving up`,
            { fatal: true },
          ),
        );
        return;
      }
      this.sink.error(
        new EarshotError(
          'internal',
          `audio decoder (FFmpeg) stopped unexpectedly (${signal ?? `exit ${code}`}); restarted, the audio in flight may be lost`,
        ),
      );
    }
    this.restart();
  }

  private restart(): void {
    this.restartCount++;
    const child = this.spawnChild();
    this.child = child;
    if (child === undefined) return;
    // The header first, so the new FFmpeg knows the stream; then what arrived meanwhile.
    const header = this.header.bytes();
    if (header !== undefined) {
      child.process.stdin.write(header);
      // The next bytes start anywhere inside an element or page; FFmpeg would log errors and
      // skip them anyway. Feeding it from the next Cluster / page keeps it quiet and exact.
      this.resyncing = true;
      this.resyncWindow = 0;
    }
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const chunk of pending) this.send(chunk);
    if (this.ending) child.process.stdin.end();
  }

  /** Where in `chunk` the input can resume after a restart (just after the sync ID), if anywhere. */
  private resyncFrom(chunk: Uint8Array): number | undefined {
    const target = this.options.container === 'webm' ? WEBM_CLUSTER_ID : OGG_CAPTURE;
    let w = this.resyncWindow;
    for (let i = 0; i < chunk.byteLength; i++) {
      w = ((w << 8) | chunk[i]!) >>> 0;
      if (w === target) {
        this.resyncing = false;
        return i + 1;
      }
    }
    this.resyncWindow = w;
    return undefined;
  }

  /** The sync ID whose bytes {@link resyncFrom} consumed. */
  private syncBytes(): Uint8Array {
    const id = this.options.container === 'webm' ? WEBM_CLUSTER_ID : OGG_CAPTURE;
    return new Uint8Array([id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff]);
  }

  private hold(chunk: Uint8Array): void {
    if (this.pendingBytes + chunk.byteLength > this.maxPendingBytes) {
      this.sink.error(
        new EarshotError(
          'internal',
          'too much audio arrived while FFmpeg restarted; a chunk was dropped',
        ),
      );
      return;
    }
    // Copied: the caller may reuse its buffer before the new FFmpeg reads it.
    this.pending.push(chunk.slice());
    this.pendingBytes += chunk.byteLength;
  }

  private kill(child: Child): void {
    child.killed = true;
    if (!child.exited) child.process.kill('SIGKILL');
  }

  private giveUp(error: EarshotError): void {
    if (this.failed) return;
    this.failed = true;
    this.pending = [];
    this.pendingBytes = 0;
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

/**
 * Sets the Segment's size to "unknown" (all ones, same length) in a replayed WebM header: the
 * new FFmpeg sees only the rest of the stream, and a known size would be wrong for it.
 */
function markSegmentSizeUnknown(header: Uint8Array): void {
  for (let i = 0; i + 4 < header.byteLength; i++) {
    if (WEBM_SEGMENT_ID.every((b, k) => header[i + k] === b)) {
      const first = header[i + 4]!;
      if (first === 0) return;
      const length = Math.clz32(first) - 23;
      if (i + 4 + length > header.byteLength) return;
      header[i + 4] = first | (0xff >> length);
      for (let k = 1; k < length; k++) header[i + 4 + k] = 0xff;
      return;
    }
  }
}

function firstLine(text: string): string {
  const line = text.indexOf('\n');
  return line < 0 ? text : text.slice(0, line);
}

/**
 * Keeps the start of the stream that a fresh FFmpeg needs before any later chunk: for WebM the
 * bytes before the first Cluster (EBML header, Segment, Tracks); for Ogg the leading pages
 * whose granule position is 0 or -1 (OpusHead, OpusTags).
 */
class HeaderCapture {
  private parts: Uint8Array[] = [];
  private size = 0;
  private done = false;
  private result: Uint8Array | undefined;
  private window = 0;

  constructor(private readonly container: OpusContainer) {}

  feed(chunk: Uint8Array): void {
    if (this.done) return;
    if (this.container === 'webm') this.feedWebm(chunk);
    else this.feedOgg(chunk);
  }

  /** The header, once complete; `undefined` before or if the stream had none. */
  bytes(): Uint8Array | undefined {
    return this.result;
  }

  private feedWebm(chunk: Uint8Array): void {
    let w = this.window;
    for (let i = 0; i < chunk.byteLength; i++) {
      w = ((w << 8) | chunk[i]!) >>> 0;
      if (w === WEBM_CLUSTER_ID) {
        const before = chunk.subarray(0, i + 1);
        this.parts.push(before);
        this.size += before.byteLength;
        // The header is everything before the Cluster ID's four bytes.
        this.complete(this.size - 4);
        return;
      }
    }
    this.window = w;
    this.append(chunk);
  }

  private feedOgg(chunk: Uint8Array): void {
    this.append(chunk);
    if (this.done) return;
    const all = this.join(this.size);
    let at = 0;
    for (;;) {
      if (all.byteLength - at < 27) return;
      if (
        all[at] !== 0x4f ||
        all[at + 1] !== 0x67 ||
        all[at + 2] !== 0x67 ||
        all[at + 3] !== 0x53
      ) {
        this.complete(0);
        return;
      }
      const segments = all[at + 26]!;
      if (all.byteLength - at < 27 + segments) return;
      let body = 0;
      for (let k = 0; k < segments; k++) body += all[at + 27 + k]!;
      if (all.byteLength - at < 27 + segments + body) return;
      let granuleIsHeader = true;
      const g0 = all[at + 6]!;
      for (let k = 6; k < 14; k++) if (all[at + k] !== g0) granuleIsHeader = false;
      // Header pages have granule 0 (a page that completes a header packet) or -1 (none).
      if (!granuleIsHeader || (g0 !== 0 && g0 !== 0xff)) {
        this.complete(at);
        return;
      }
      at += 27 + segments + body;
    }
  }

  private append(chunk: Uint8Array): void {
    if (this.size + chunk.byteLength > MAX_HEADER_BYTES) {
      this.complete(0);
      return;
    }
    this.parts.push(chunk.slice());
    this.size += chunk.byteLength;
  }

  private complete(length: number): void {
    this.done = true;
    this.result = length > 0 ? this.join(this.size).slice(0, length) : undefined;
    this.parts = [];
    if (this.result !== undefined && this.container === 'webm') markSegmentSizeUnknown(this.result);
  }

  private join(total: number): Uint8Array {
    if (this.parts.length === 1) return this.parts[0]!;
    const all = new Uint8Array(total);
    let at = 0;
    for (const part of this.parts) {
      all.set(part, at);
      at += part.byteLength;
    }
    this.parts = [all];
    return all;
  }
}
