import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const cache = new Map<string, Promise<string[]>>();

/**
 * What `pocketsphinx_continuous -infile <wav> -logfn /dev/null` prints for a 16 kHz mono
 * PCM16 WAV file: one line per utterance (its finals), empty lines dropped. The reference the
 * local provider's finals are compared with. Cached per path for the life of the process.
 */
export function referenceTranscript(wavPath: string): Promise<string[]> {
  const path = resolve(wavPath);
  let pending = cache.get(path);
  if (!pending) {
    pending = run('pocketsphinx_continuous', ['-infile', path, '-logfn', '/dev/null'], {
      maxBuffer: 16 * 1024 * 1024,
    }).then(({ stdout }) =>
      stdout
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== ''),
    );
    // A failed run is not remembered, so a later call can try again.
    pending.catch(() => cache.delete(path));
    cache.set(path, pending);
  }
  return pending;
}
