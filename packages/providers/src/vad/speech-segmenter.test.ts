import { describe, expect, it } from 'vitest';
import { createSpeechSegmenter, type VadEvent } from './speech-segmenter.js';

// 10 "samples" per frame at 100 Hz: one frame is 0.1 s, so times read as frame counts.
const options = {
  sampleRate: 100,
  frameSamples: 10,
  startSpeechFrames: 3,
  endSilenceFrames: 4,
  preSpeechPaddingSamples: 0,
};

function run(pattern: string, overrides: Partial<typeof options> = {}): VadEvent[] {
  const segmenter = createSpeechSegmenter({ ...options, ...overrides });
  const events: VadEvent[] = [];
  for (const c of pattern) {
    const event = segmenter.frame(c === '1');
    if (event) events.push(event);
  }
  const last = segmenter.end(pattern.length * options.frameSamples);
  if (last) events.push(last);
  return events;
}

describe('createSpeechSegmenter', () => {
  it('ignores voiced runs shorter than startSpeechFrames', () => {
    expect(run('0110110011000')).toEqual([]);
  });

  it('begins speech at the first frame of a long enough voiced run, reported when confirmed', () => {
    const segmenter = createSpeechSegmenter(options);
    expect(segmenter.frame(false)).toBeUndefined();
    expect(segmenter.frame(true)).toBeUndefined();
    expect(segmenter.frame(true)).toBeUndefined();
    expect(segmenter.frame(true)).toEqual({ type: 'speech_started', at: 0.1 });
    expect(segmenter.speaking).toBe(true);
  });

  it('keeps speech through pauses shorter than endSilenceFrames', () => {
    expect(run('0111001110001110000')).toEqual([
      { type: 'speech_started', at: 0.1 },
      { type: 'speech_ended', at: 1.5, start: 0.1 },
    ]);
  });

  it('ends speech at the end of the last voiced frame once the silence is long enough', () => {
    expect(run('01110000011100000')).toEqual([
      { type: 'speech_started', at: 0.1 },
      { type: 'speech_ended', at: 0.4, start: 0.1 },
      { type: 'speech_started', at: 0.9 },
      { type: 'speech_ended', at: 1.2, start: 0.9 },
    ]);
  });

  it('pads the start without reaching before the previous end or zero', () => {
    expect(run('01110000111000', { preSpeechPaddingSamples: 30 })).toEqual([
      { type: 'speech_started', at: 0 },
      { type: 'speech_ended', at: 0.4, start: 0 },
      { type: 'speech_started', at: 0.5 },
      { type: 'speech_ended', at: 1.1, start: 0.5 },
    ]);
  });

  it('ends open speech at the end of input when input stops mid-speech', () => {
    const segmenter = createSpeechSegmenter(options);
    for (let i = 0; i < 5; i++) segmenter.frame(true);
    expect(segmenter.end(57)).toEqual({ type: 'speech_ended', at: 0.57, start: 0 });
    expect(segmenter.speaking).toBe(false);
  });

  it('ends open speech at the last voiced frame when input stops in a pause', () => {
    expect(run('1111100')).toEqual([
      { type: 'speech_started', at: 0 },
      { type: 'speech_ended', at: 0.5, start: 0 },
    ]);
  });

  it('starts the frame clock again after the samples counted at end of input', () => {
    const segmenter = createSpeechSegmenter(options);
    segmenter.frame(true);
    expect(segmenter.end(15)).toBeUndefined();
    segmenter.frame(true);
    segmenter.frame(true);
    expect(segmenter.frame(true)).toEqual({ type: 'speech_started', at: 0.15 });
  });
});
