import { describe, expect, it } from 'vitest';
import { durationSeconds, parseStreamingResponse } from './google-wire.js';

describe('google wire: StreamingRecognizeResponse as the SDK emits it', () => {
  it('reads Durations whose seconds arrive as an int64 string', () => {
    expect(durationSeconds({ seconds: '12', nanos: 250_000_000 })).toBe(12.25);
    expect(durationSeconds({ seconds: 3 })).toBe(3);
    expect(durationSeconds(null)).toBeUndefined();
  });

  it('reduces a result to its top alternative, with words, speaker labels and end time', () => {
    const parsed = parseStreamingResponse({
      results: [
        {
          alternatives: [
            {
              transcript: ' hello world',
              confidence: 0.92,
              words: [
                {
                  word: 'hello',
                  startTime: { seconds: '0', nanos: 100_000_000 },
                  endTime: { seconds: '0', nanos: 500_000_000 },
                  confidence: 0,
                  speakerTag: 0,
                  speakerLabel: '2',
                },
              ],
            },
            { transcript: 'yellow world', confidence: 0.5, words: [] },
          ],
          isFinal: true,
          stability: 0,
          resultEndTime: { seconds: '1', nanos: 0 },
          channelTag: 0,
          languageCode: 'en-us',
        },
      ],
      error: null,
      speechEventType: 'SPEECH_EVENT_UNSPECIFIED',
      speechEventTime: null,
      totalBilledTime: null,
      requestId: '0',
    });
    expect(parsed).toEqual({
      ok: true,
      value: {
        results: [
          {
            transcript: ' hello world',
            confidence: 0.92,
            // Word confidence 0 is Google's "not set".
            words: [{ word: 'hello', start: 0.1, end: 0.5, speaker: 2 }],
            isFinal: true,
            stability: 0,
            endTime: 1,
          },
        ],
        speechEvent: 'SPEECH_EVENT_UNSPECIFIED',
      },
    });
  });

  it('keeps speech events with their time, and an error status carried in a response', () => {
    const event = parseStreamingResponse({
      results: [],
      speechEventType: 'SPEECH_ACTIVITY_BEGIN',
      speechEventTime: { seconds: '2', nanos: 0 },
      error: { code: 0, message: '' },
    });
    expect(event).toEqual({
      ok: true,
      value: { results: [], speechEvent: 'SPEECH_ACTIVITY_BEGIN', speechEventTime: 2 },
    });
    const failed = parseStreamingResponse({ results: [], error: { code: 11, message: 'late' } });
    expect(failed.ok && failed.value.error).toEqual({ code: 11, message: 'late' });
  });

  it('says what is wrong with a response it cannot read, instead of throwing', () => {
    expect(parseStreamingResponse('nope')).toEqual({
      ok: false,
      problem: 'the response is not an object',
    });
    expect(parseStreamingResponse({ results: [{ alternatives: [{ transcript: 7 }] }] })).toEqual({
      ok: false,
      problem: 'transcript is not a string',
    });
    expect(parseStreamingResponse({ results: [{ stability: 'high' }] })).toMatchObject({
      ok: false,
    });
  });
});
