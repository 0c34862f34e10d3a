import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { readWavPcm16 } from './wav.js';

const run = promisify(execFile);

/** Where Debian's `pocketsphinx-testdata` puts its LibriVox recordings. */
export const LIBRIVOX_DIR = '/usr/share/pocketsphinx/test/data/librivox';

/** One recording with what is said in it. */
export interface SpeechFixture {
  /** File name without `.wav`, e.g. `sense_and_sensibility_01_austen_64kb-0880`. */
  readonly name: string;
  /** Absolute path of a 16 kHz mono PCM16 WAV file. */
  readonly path: string;
  /** The human transcription, lower case, without sentence marks. */
  readonly text: string;
}

/**
 * PocketSphinx's LibriVox test recordings (16 kHz mono PCM16 WAV, 3–7 s each) with their
 * reference transcriptions, in the order of the `transcription` file.
 */
export async function speechFixtures(dir: string = LIBRIVOX_DIR): Promise<SpeechFixture[]> {
  const listing = await readFile(join(dir, 'transcription'), 'utf8');
  const fixtures: SpeechFixture[] = [];
  // Lines look like: "<s> he was not an ill disposed young man </s> (file-id)".
  for (const line of listing.split('\n')) {
    const match = /^(.*)\(([^()]+)\)\s*$/.exec(line.trim());
    if (!match) continue;
    const [, words = '', name = ''] = match;
    const text = words
      .replace(/<\/?s>/g, ' ')
      .trim()
      .replace(/\s+/g, ' ');
    fixtures.push({ name, path: join(dir, `${name}.wav`), text });
  }
  return fixtures;
}

/** Options of {@link synthesizeSpeech}. */
export interface SynthesizeOptions {
  /** Which synthesizer speaks. */
  readonly engine: 'espeak-ng' | 'flite';
  /** An espeak-ng voice (`en-us`, `en-gb+f3`) or a flite voice (`kal`, `slt`, `awb`, …). */
  readonly voice?: string;
  /** Sample rate of the WAV written. Defaults to 16000. */
  readonly sampleRate?: number;
  /** Cache directory. Defaults to `<tmpdir>/earshot-speech`. */
  readonly cacheDir?: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).size > 44;
  } catch {
    return false;
  }
}

/**
 * Speaks `text` with espeak-ng or flite and converts it with sox to a mono PCM16 WAV
 * (16 kHz unless told). Returns its path. Files are cached by a hash of text, engine, voice
 * and rate, and written under a temporary name then renamed, so parallel test files never
 * read a half-written one.
 */
export async function synthesizeSpeech(text: string, options: SynthesizeOptions): Promise<string> {
  const sampleRate = options.sampleRate ?? 16000;
  const voice = options.voice ?? (options.engine === 'espeak-ng' ? 'en-us' : 'kal');
  const dir = options.cacheDir ?? join(tmpdir(), 'earshot-speech');
  const key = createHash('sha256')
    .update(JSON.stringify([options.engine, voice, sampleRate, text]))
    .digest('hex')
    .slice(0, 24);
  const path = join(dir, `${options.engine}-${key}.wav`);
  if (await exists(path)) return path;
  await mkdir(dir, { recursive: true });
  const unique = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const raw = join(dir, `${basename(path, '.wav')}.${unique}.raw.wav`);
  const converted = join(dir, `${basename(path, '.wav')}.${unique}.wav`);
  try {
    if (options.engine === 'espeak-ng') {
      await run('espeak-ng', ['-v', voice, '-w', raw, text]);
    } else {
      await run('flite', ['-voice', voice, '-t', text, '-o', raw]);
    }
    await run('sox', [
      raw,
      '-r',
      String(sampleRate),
      '-c',
      '1',
      '-b',
      '16',
      '-e',
      'signed-integer',
      converted,
    ]);
    await rename(converted, path);
  } finally {
    await rm(raw, { force: true });
    await rm(converted, { force: true });
  }
  return path;
}

/**
 * The first `count` recordings (all by default) as one PCM16 16 kHz stream, each followed by
 * `pauseSeconds` of silence: a pause after each, so a final every few seconds.
 */
export async function speechWithPauses(count?: number, pauseSeconds = 1): Promise<Buffer> {
  const silence = Buffer.alloc(Math.round(pauseSeconds * 16000) * 2);
  const parts: Buffer[] = [];
  for (const fixture of (await speechFixtures()).slice(0, count)) {
    parts.push((await readWavPcm16(fixture.path)).pcm, silence);
  }
  return Buffer.concat(parts);
}
