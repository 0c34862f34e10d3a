import { describe, expect, it } from 'vitest';
import {
  CommandGrammarError,
  createCommandDetector,
  parseSpokenNumber,
  phoneticKey,
} from './index.js';

const scribe = createCommandDetector({
  wakeWords: ['sully'],
  lexicons: {
    drug: ['amoxicillin', 'lisinopril', 'metformin', 'ibuprofen', 'atorvastatin'],
    lab: ['complete blood count', 'lipid panel', 'hemoglobin a1c', 'urinalysis'],
  },
  commands: [
    {
      name: 'write_prescription',
      patterns: [
        '(write [a] prescription [for] | prescribe) {drug:drug} {dose:dose} {frequency:frequency}',
        'start [him | her | them] on {drug:drug} {dose:dose} {frequency:frequency}',
      ],
      examples: ['write a prescription for lisinopril ten milligrams once a day'],
    },
    { name: 'add_note', patterns: ['add [a] note [that] {text}'], examples: ['add note stable'] },
    { name: 'order_lab', patterns: ['order [a | an] {test:lab}'] },
    { name: 'schedule_follow_up', patterns: ['schedule [a] follow [up] in {in:duration}'] },
    {
      name: 'record_blood_pressure',
      patterns: ['blood pressure [is] {systolic:number} over {diastolic:number}'],
    },
  ],
});

const one = (text: string) => scribe.detect(text)[0];

describe('typed slots', () => {
  it('reads a prescription: a drug from the lexicon, a spoken dose, a frequency', () => {
    expect(
      one('Sully, write a prescription for amoxicillin five hundred milligrams twice a day.'),
    ).toMatchObject({
      name: 'write_prescription',
      slots: { drug: 'amoxicillin', dose: { value: 500, unit: 'mg' }, frequency: 'twice daily' },
      confidence: 1,
    });
    expect(one('sully start her on metformin 500 mg every eight hours')?.slots).toEqual({
      drug: 'metformin',
      dose: { value: 500, unit: 'mg' },
      frequency: 'every 8 hours',
    });
  });

  it('reads numbers as doctors say them, durations and lab names of several words', () => {
    expect(one('sully blood pressure one twenty over eighty')?.slots).toEqual({
      systolic: 120,
      diastolic: 80,
    });
    expect(one('sully schedule a follow up in two weeks')?.slots).toEqual({
      in: { value: 2, unit: 'week' },
    });
    expect(one('sully order a complete blood count')?.slots).toEqual({
      test: 'complete blood count',
    });
  });
});

describe('what recognizers really write', () => {
  it('hears the wake word by its sound: sally, solly', () => {
    expect(one('sally add a note patient is stable')?.name).toBe('add_note');
    expect(one('solly add a note patient is stable')?.name).toBe('add_note');
    expect(scribe.detect('silly me, I forgot the note')).toEqual([]);
  });

  it('matches a drug name split or misspelled by the recognizer, with less confidence', () => {
    const heard = one(
      'sully write a prescription for a mock so cillin five hundred milligrams twice a day',
    );
    expect(heard?.slots.drug).toBe('amoxicillin');
    expect(heard?.confidence).toBeLessThan(1);
    expect(one('sully prescribe lysine a pril ten milligrams daily')?.slots.drug).toBe(
      'lisinopril',
    );
  });

  it('ignores fillers and punctuation, and a word the pattern does not have', () => {
    expect(
      one('um, Sully, uh, please write the prescription for ibuprofen 400 mg as needed'),
    ).toMatchObject({
      name: 'write_prescription',
      slots: { drug: 'ibuprofen', dose: { value: 400, unit: 'mg' }, frequency: 'as needed' },
    });
  });

  it('fires on nothing in conversation about the same things', () => {
    for (const text of [
      'the prescription for amoxicillin was written last week',
      'sully is the name of our assistant',
      'we should order a lipid panel next time',
      'his blood pressure was fine',
      'sully thanks that is all',
    ]) {
      expect(scribe.detect(text), text).toEqual([]);
    }
  });
});

describe('a grammar that does not compile', () => {
  const define =
    (patterns: string[], extra: object = {}) =>
    () =>
      createCommandDetector({ commands: [{ name: 'c', patterns, ...extra }] });

  it('points at the problem: unknown slot type, unmatched brackets, empty parts, duplicates', () => {
    expect(define(['give {drug:drugs}'])).toThrow(
      'command "c": pattern "give {drug:drugs}": unknown slot type "drugs" (known: text, number, dose, duration, frequency) at column 6',
    );
    expect(define(['add [a note'])).toThrow(/unmatched "\[" at column 5/);
    expect(define(['add (a | ) note'])).toThrow(/empty alternative/);
    expect(define(['a {x} b {x}'])).toThrow(/slot \{x\} appears twice/);
    expect(define(['{text} please'])).toThrow(/cannot start with free text/);
    expect(define(['x]'])).toThrow(CommandGrammarError);
  });

  it('fails when an example does not match its command', () => {
    expect(define(['add note {text}'], { examples: ['remove the note'] })).toThrow(
      'command "c": example "remove the note" matches none of its patterns',
    );
  });

  it('refuses a lexicon that is empty or named like a built-in type', () => {
    expect(() => createCommandDetector({ lexicons: { dose: ['x'] }, commands: [] })).toThrow(
      /built-in slot type/,
    );
    expect(() => createCommandDetector({ lexicons: { drug: [] }, commands: [] })).toThrow(/empty/);
  });
});

describe('bad transcripts', () => {
  it('handles empty, huge and binary-looking transcripts in bounded time', () => {
    expect(scribe.detect('')).toEqual([]);
    const started = performance.now();
    const huge = `${'sully add a note '.repeat(2000)}${'x'.repeat(60_000)}`;
    scribe.detect(huge);
    scribe.detect(String.fromCharCode(...Array.from({ length: 100_000 }, (_, i) => i % 256)));
    scribe.detect('sully '.repeat(20_000));
    // Bounded by the transcript window (20 000 characters) and the command window (40 words).
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});

describe('building blocks', () => {
  it('keys words by sound and reads spoken numbers', () => {
    expect(phoneticKey('sully')).toBe(phoneticKey('sally'));
    expect(parseSpokenNumber(['two', 'fifty'], 0)?.value).toBe(250);
  });
});
