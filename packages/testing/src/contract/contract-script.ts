import { type ScriptedUtterance, STAMP_SECONDS, stampedAudio } from '../emulators/transcriber.js';

/** The script every provider's emulator "hears": three utterances over 9 s of audio. */
export const CONTRACT_SCRIPT: readonly ScriptedUtterance[] = [
  { text: 'the quick brown fox', start: 0.5, end: 2.0 },
  { text: 'jumps over the lazy dog', start: 3.5, end: 5.5 },
  { text: 'and runs away', start: 7.0, end: 8.2 },
];

/**
 * The 100 ms chunk `index` of the contract's audio, PCM16 mono at `sampleRate`: stamped with
 * its place in the session (see `stampedAudio`) and voiced where {@link CONTRACT_SCRIPT}
 * speaks, so a provider that listens through a VAD hears speech there.
 */
export function contractAudioChunk(index: number, sampleRate: number): Uint8Array {
  const mid = (index + 0.5) * STAMP_SECONDS;
  const voiced = CONTRACT_SCRIPT.some((u) => mid >= u.start && mid < u.end);
  return stampedAudio(index, sampleRate, { voiced });
}
