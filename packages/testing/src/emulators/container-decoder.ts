import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** Callbacks of {@link ContainerDecoder}. */
export interface ContainerDecoderEvents {
  /** Decoded PCM16 mono at the decoder's rate, as it comes. */
  pcm(chunk: Uint8Array): void;
  /** FFmpeg could not read the bytes as audio, with what it said. */
  undecodable(message: string): void;
}

/**
 * Decodes a container stream (WebM, Ogg, MP3, WAV…, whatever FFmpeg reads) to PCM16 mono as
 * bytes arrive, as a vendor that takes "containerized audio" does: an emulator hears what
 * the client sent, not a declared raw format. FFmpeg runs as a child process, started on
 * the first write.
 */
export class ContainerDecoder {
  private child: ChildProcessByStdio<Writable, Readable, Readable> | undefined;
  private exited: Promise<void> | undefined;
  private stderr = '';
  private killed = false;

  constructor(
    private readonly sampleRate: number,
    private readonly events: ContainerDecoderEvents,
  ) {}

  write(bytes: Uint8Array): void {
    if (this.killed) return;
    const child = this.child ?? this.start();
    if (child.stdin.writable) child.stdin.write(bytes);
  }

  /** No more audio: resolves once FFmpeg has decoded everything it was given. */
  async end(): Promise<void> {
    if (this.child === undefined || this.killed) return;
    this.child.stdin.end();
    await this.exited;
  }

  /** Stops FFmpeg at once. Idempotent. */
  kill(): void {
    this.killed = true;
    this.child?.kill('SIGKILL');
  }

  private start(): ChildProcessByStdio<Writable, Readable, Readable> {
    const child = spawn(
      'ffmpeg',
      [
        // Small probes: start decoding from the header, as a live service does, not after 5 s.
        ...['-hide_banner', '-loglevel', 'error', '-probesize', '4096', '-analyzeduration', '0'],
        ...['-fflags', '+nobuffer', '-i', 'pipe:0'],
        ...['-f', 's16le', '-ac', '1', '-ar', String(this.sampleRate), 'pipe:1'],
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child = child;
    child.stdout.on('data', (chunk: Buffer) => {
      if (!this.killed) this.events.pcm(new Uint8Array(chunk));
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-2000);
    });
    // A client that stops mid-write leaves FFmpeg's stdin closed under it: not an error here.
    child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      child.on('close', (code) => {
        if (code !== 0 && !this.killed) this.events.undecodable(this.stderr.trim());
        resolve();
      });
      child.on('error', (error) => {
        if (!this.killed) this.events.undecodable(String(error));
        resolve();
      });
    });
    return child;
  }
}
