/** A real 16 kHz mono PCM16 recording shipped by Debian's pocketsphinx test data (7.1 s). */
export const SPEECH_WAV =
  '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav';
