import { spawn } from 'node:child_process';
import { EarshotError } from '@earshot/protocol';
import { monoClipAt, wavClip } from '../../audio/clip.js';
import { encodeMulaw } from '../../audio/g711.js';
import { pcm16FromBytes } from '../../audio/pcm16.js';

/** Audio to play into a call: anything is converted to the call's μ-law 8 kHz mono. */
export type PlayAudio =
  /** A WAV file (PCM16), or any file FFmpeg reads (MP3, Ogg…), as bytes. */
  | Uint8Array
  /** Raw PCM16 little-endian samples at a rate, mono or stereo. */
  | {
      readonly pcm16: Uint8Array | Int16Array;
      readonly sampleRate: number;
      readonly channels?: 1 | 2;
    }
  /** Already μ-law 8 kHz mono: sent as it is. */
  | { readonly mulaw: Uint8Array };

const PHONE_RATE = 8000;

/** Converts `audio` to μ-law 8 kHz mono: in process for PCM and WAV, with FFmpeg otherwise. */
export async function toPhoneAudio(audio: PlayAudio, ffmpegPath = 'ffmpeg'): Promise<Uint8Array> {
  if (!(audio instanceof Uint8Array)) {
    if ('mulaw' in audio) return audio.mulaw;
    const samples = audio.pcm16 instanceof Int16Array ? audio.pcm16 : pcm16FromBytes(audio.pcm16);
    return pcmToMulaw(samples, audio.sampleRate, audio.channels ?? 1);
  }
  const wav = wavClip(audio);
  if (wav?.format.encoding === 'pcm16') {
    return pcmToMulaw(pcm16FromBytes(wav.data), wav.format.sampleRate, wav.format.channels);
  }
  return ffmpegToMulaw(audio, ffmpegPath);
}

function pcmToMulaw(samples: Int16Array, sampleRate: number, channels: number): Uint8Array {
  return encodeMulaw(monoClipAt(samples, sampleRate, channels, PHONE_RATE));
}

function ffmpegToMulaw(input: Uint8Array, ffmpegPath: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      ffmpegPath,
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-i',
        'pipe:0',
        '-f',
        'mulaw',
        '-ar',
        '8000',
        '-ac',
        '1',
        'pipe:1',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const out: Buffer[] = [];
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      errors = (errors + chunk.toString()).slice(-500);
    });
    child.on('error', (error) =>
      reject(new EarshotError('unsupported_audio_format', `cannot run FFmpeg: ${error.message}`)),
    );
    child.on('close', (code) => {
      if (code === 0 && out.length > 0) resolve(Buffer.concat(out));
      else
        reject(
          new EarshotError(
            'unsupported_audio_format',
            `FFmpeg could not read the audio: ${errors.trim()}`,
          ),
        );
    });
    child.stdin.on('error', () => {}); // FFmpeg may stop reading early; its exit says why
    child.stdin.end(input);
  });
}
