import { describe, expect, it } from 'vitest';
import { parseDeepgramMessage } from './deepgram-wire.js';

const results = {
  type: 'Results',
  channel_index: [0, 1],
  duration: 1.02,
  start: 0,
  is_final: true,
  speech_final: false,
  channel: {
    alternatives: [
      {
        transcript: 'Hello.',
        confidence: 0.98,
        words: [
          {
            word: 'hello',
            start: 0.1,
            end: 0.5,
            confidence: 0.98,
            punctuated_word: 'Hello.',
            speaker: 0,
          },
        ],
      },
    ],
  },
  metadata: {
    request_id: 'r',
    model_info: { name: 'nova-3', version: 'v', arch: 'a' },
    model_uuid: 'u',
  },
};

describe('Deepgram wire messages', () => {
  it('accepts the four live message types in their real shape', () => {
    for (const message of [
      results,
      { type: 'UtteranceEnd', channel: [0, 1], last_word_end: 2.5 },
      { type: 'SpeechStarted', channel: [0, 1], timestamp: 0.3 },
      {
        type: 'Metadata',
        transaction_key: 'deprecated',
        request_id: 'r',
        sha256: 'x',
        created: '2025-01-01T00:00:00Z',
        duration: 3,
        channels: 1,
      },
    ]) {
      expect(parseDeepgramMessage(message)).toEqual({ ok: true, message });
    }
  });

  it('lets message types it does not know pass, for the stream to ignore', () => {
    expect(parseDeepgramMessage({ type: 'Warning', description: 'x' }).ok).toBe(true);
  });

  it('names the first field that is missing or of the wrong type', () => {
    const wordless = {
      ...results,
      channel: { alternatives: [{ transcript: 'x', confidence: 1 }] },
    };
    const badWord = {
      ...results,
      channel: {
        alternatives: [{ transcript: 'x', confidence: 1, words: [{ word: 'x', start: '0' }] }],
      },
    };
    expect(parseDeepgramMessage(wordless)).toEqual({
      ok: false,
      problem: 'Results.alternatives.0.words: expected an array',
    });
    expect(parseDeepgramMessage(badWord)).toEqual({
      ok: false,
      problem: 'Results.alternatives.0.words.0.start: expected a number',
    });
    expect(parseDeepgramMessage({ ...results, is_final: 'yes' })).toMatchObject({
      problem: 'Results.is_final: expected a boolean',
    });
    expect(parseDeepgramMessage({ type: 'UtteranceEnd' })).toMatchObject({
      problem: 'UtteranceEnd.last_word_end: expected a number',
    });
    expect(parseDeepgramMessage('text')).toEqual({ ok: false, problem: 'not a JSON object' });
    expect(parseDeepgramMessage({ transcript: 'x' })).toEqual({
      ok: false,
      problem: 'type: expected a string',
    });
  });
});
