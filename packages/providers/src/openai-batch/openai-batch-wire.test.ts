import { readWavHeader } from '@earshot/protocol';
import { describe, expect, it } from 'vitest';
import { encodeWav, parseWhisperTranscription } from './openai-batch-wire.js';

describe('encodeWav', () => {
  it('wraps PCM16 in a 44-byte header that declares mono 16-bit PCM at the given rate', () => {
    const pcm = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const wav = encodeWav(pcm, 16000);
    expect(wav.byteLength).toBe(50);
    expect(readWavHeader(wav)).toEqual({
      complete: true,
      format: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
      dataOffset: 44,
      dataBytes: 6,
    });
    expect([...wav.subarray(44)]).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('parseWhisperTranscription', () => {
  it('reads a json answer as text without words or segments', () => {
    expect(
      parseWhisperTranscription({ text: 'Hello.', usage: { type: 'duration', seconds: 1 } }),
    ).toEqual({
      text: 'Hello.',
      words: [],
      segments: [],
    });
  });

  it('reads the words and segments of a verbose_json answer', () => {
    const body = {
      task: 'transcribe',
      language: 'english',
      duration: 1.2,
      text: 'Hello world.',
      segments: [
        {
          id: 0,
          seek: 0,
          start: 0,
          end: 1.2,
          text: ' Hello world.',
          tokens: [1],
          temperature: 0,
          avg_logprob: -0.2,
          compression_ratio: 1,
          no_speech_prob: 0.01,
        },
      ],
      words: [
        { word: 'Hello', start: 0.1, end: 0.5 },
        { word: 'world', start: 0.5, end: 1.0 },
      ],
    };
    expect(parseWhisperTranscription(body)).toEqual({
      text: 'Hello world.',
      words: body.words,
      segments: [{ start: 0, end: 1.2, text: ' Hello world.', avgLogprob: -0.2 }],
    });
  });

  it.each([
    ['a string', 'Hello'],
    ['no text', { words: [] }],
    ['words that are not a list', { text: 'a', words: 'a' }],
    ['a word without times', { text: 'a', words: [{ word: 'a' }] }],
    ['a negative time', { text: 'a', words: [{ word: 'a', start: -1, end: 0 }] }],
    ['a segment without text', { text: 'a', segments: [{ start: 0, end: 1 }] }],
  ])('refuses %s', (_name, body) => {
    expect(parseWhisperTranscription(body)).toBeUndefined();
  });
});
