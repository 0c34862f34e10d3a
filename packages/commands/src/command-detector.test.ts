import { describe, expect, it } from 'vitest';
import { CommandGrammarError, createCommandDetector } from './index.js';

const detector = createCommandDetector({
  wakeWords: ['sully'],
  commands: [
    { name: 'add_note', patterns: ['add note {text}', 'add a note {text}'] },
    {
      name: 'write_prescription',
      patterns: ['write prescription for {drug}', 'write prescription {drug}'],
    },
  ],
});

describe('command detector', () => {
  it('finds a command after its wake word, ignoring case and punctuation', () => {
    expect(detector.detect('Sully, add note: patient is stable.')).toMatchObject([
      { name: 'add_note', slots: { text: 'patient is stable' }, confidence: 1 },
    ]);
  });

  it('finds nothing without the wake word', () => {
    expect(detector.detect('please add note patient is stable')).toEqual([]);
  });

  it('finds two commands in one utterance, in spoken order', () => {
    expect(
      detector.detect('sully write prescription for amoxicillin sully add note follow up'),
    ).toMatchObject([
      { name: 'write_prescription', slots: { drug: 'amoxicillin' } },
      { name: 'add_note', slots: { text: 'follow up' } },
    ]);
  });

  it('matches anywhere when there are no wake words', () => {
    const bare = createCommandDetector({
      commands: [{ name: 'stop_recording', patterns: ['stop recording'] }],
    });
    expect(bare.detect('okay stop recording now')).toMatchObject([
      { name: 'stop_recording', slots: {} },
    ]);
    expect(bare.detect('unstoppable recordings')).toEqual([]);
  });

  it('fails at definition for duplicate names, bad names and malformed patterns', () => {
    expect(() =>
      createCommandDetector({
        commands: [
          { name: 'a', patterns: ['x'] },
          { name: 'a', patterns: ['y'] },
        ],
      }),
    ).toThrow(/defined twice/);
    expect(() =>
      createCommandDetector({ commands: [{ name: 'Bad Name', patterns: ['x'] }] }),
    ).toThrow(CommandGrammarError);
    expect(() =>
      createCommandDetector({ commands: [{ name: 'a', patterns: ['add {text'] }] }),
    ).toThrow(/unmatched "\{"/);
    expect(() =>
      createCommandDetector({ commands: [{ name: 'a', patterns: ['{x} and {x}'] }] }),
    ).toThrow(/appears twice/);
    expect(() => createCommandDetector({ commands: [{ name: 'a', patterns: [] }] })).toThrow(
      /no patterns/,
    );
  });

  it('handles empty and very long transcripts in bounded time', () => {
    expect(detector.detect('')).toEqual([]);
    const long = 'word '.repeat(20_000);
    expect(detector.detect(long)).toEqual([]);
  });
});
