import type { ScriptedUtterance } from '../emulators/transcriber.js';

/** The script every provider's emulator "hears": three utterances over 9 s of audio. */
export const CONTRACT_SCRIPT: readonly ScriptedUtterance[] = [
  { text: 'the quick brown fox', start: 0.5, end: 2.0 },
  { text: 'jumps over the lazy dog', start: 3.5, end: 5.5 },
  { text: 'and runs away', start: 7.0, end: 8.2 },
];
