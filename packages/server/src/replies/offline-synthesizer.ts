import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EarshotError, type Logger } from '@earshot/protocol';

/** The offline speech synthesizers the offline responder can speak with. */
export type OfflineSpeechEngine = 'espeak-ng' | 'flite';

/** Options of {@link synthesizeOffline}. */
export interface OfflineSynthesisOptions {
  /** Which synthesizer speaks. */
  readonly engine: OfflineSpeechEngine;
  /** The engine's voice (`en-us` for espeak-ng, `slt` for flite). */
  readonly voice: string;
  /** Speaking rate in words per minute (espeak-ng's `-s`; 175 is its default). */
  readonly rate: number;
  /** The executable; the engine's name on the `PATH` when absent. */
  readonly command?: string;
  /** Kills the synthesizer when it aborts. */
  readonly signal: AbortSignal;
  /** Told each synthesizer's pid at debug, when it starts. */
  readonly logger: Logger;
}

/** The Debian package that provides each engine's executable. */
const DEBIAN_PACKAGE: Readonly<Record<OfflineSpeechEngine, string>> = {
  'espeak-ng': 'espeak-ng',
  flite: 'flite',
};
/** flite's own pace, in words per minute: the rate at which its duration stretch is 1. */
const FLITE_NATURAL_RATE = 175;
const MAX_STDERR_CHARS = 500;

/**
 * Speaks `text` with espeak-ng or flite and resolves with the WAV file it wrote (PCM16 mono;
 * espeak-ng 22.05 kHz, flite 8 or 16 kHz by voice). Settles only once the child process
 * has exited, so nothing of it outlives the call; on abort it is killed (SIGKILL) and the
 * promise rejects with the signal's reason. A missing executable is `provider_unavailable`
 * naming the Debian package; any other failure `provider_error`.
 *
 * The text never reaches the command line, where a leading `-` would read as an option:
 * espeak-ng reads it on stdin, flite from a file.
 */
export async function synthesizeOffline(
  text: string,
  options: OfflineSynthesisOptions,
): Promise<Uint8Array> {
  if (options.engine === 'espeak-ng') {
    return run(
      options,
      ['--stdout', '-v', options.voice, '-s', String(Math.round(options.rate))],
      text,
    );
  }
  // flite writes only to a named file; a private directory keeps parallel replies apart.
  const dir = await mkdtemp(join(tmpdir(), 'earshot-flite-'));
  try {
    const input = join(dir, 'reply.txt');
    const output = join(dir, 'reply.wav');
    await writeFile(input, text, 'utf8');
    const stretch = (FLITE_NATURAL_RATE / options.rate).toFixed(3);
    await run(options, [
      '-voice',
      options.voice,
      '--setf',
      `duration_stretch=${stretch}`,
      '-f',
      input,
      '-o',
      output,
    ]);
    return await readFile(output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs the engine to its exit: its stdout, or a rejection once it is gone. */
function run(options: OfflineSynthesisOptions, args: string[], stdin?: string): Promise<Buffer> {
  const { engine, signal, logger } = options;
  const command = options.command ?? engine;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    let failure: { error: unknown } | undefined;
    const onAbort = () => {
      failure ??= { error: signal.reason };
      child.kill('SIGKILL');
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-MAX_STDERR_CHARS);
    });
    // The engine may exit without reading all its input (a bad voice); its exit says why.
    child.stdin.on('error', () => {});
    // A failed spawn (ENOENT) is followed by 'close', which settles the promise.
    child.on('error', (error: NodeJS.ErrnoException) => {
      failure ??= { error: spawnFailure(engine, command, error) };
    });
    child.on('close', (code, killedBy) => {
      signal.removeEventListener('abort', onAbort);
      if (failure) reject(failure.error);
      else if (code === 0) resolve(Buffer.concat(stdout));
      else {
        reject(
          new EarshotError(
            'provider_error',
            `${engine} failed (${killedBy ?? `exit ${code}`}): ${stderr.trim() || 'no message'}`,
            { details: { engine } },
          ),
        );
      }
    });
    if (child.pid !== undefined) logger.debug({ engine, pid: child.pid }, 'synthesizer started');
    child.stdin.end(stdin ?? '');
  });
}

function spawnFailure(
  engine: OfflineSpeechEngine,
  command: string,
  error: NodeJS.ErrnoException,
): EarshotError {
  if (error.code === 'ENOENT') {
    const install = `apt-get install -y ${DEBIAN_PACKAGE[engine]}`;
    return new EarshotError(
      'provider_unavailable',
      `${engine} is not installed (${command} not found): ${install}`,
      { cause: error, details: { engine, install } },
    );
  }
  return new EarshotError(
    'provider_unavailable',
    `${engine} could not be started: ${error.message}`,
    {
      cause: error,
      details: { engine },
    },
  );
}
