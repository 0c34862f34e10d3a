import { describe, expect, it } from 'vitest';
import {
  CommandTracker,
  createCommandDetector,
  createCommandResolver,
  extendCommandSet,
} from './index.js';

const defaults = {
  wakeWords: ['sully'],
  commands: [
    { name: 'add_note', patterns: ['add [a] note {text}'] },
    { name: 'order_lab', patterns: ['order [a] {test}'] },
  ],
};

describe('a command tracker', () => {
  it('shows a command tentatively once per revision that changes it, and confirms it once', () => {
    const tracker = new CommandTracker(createCommandDetector(defaults));
    expect(tracker.interim('s1', 'sully add')).toEqual([]);
    expect(tracker.interim('s1', 'sully add a note patient')).toMatchObject([
      { name: 'add_note', slots: { text: 'patient' } },
    ]);
    expect(tracker.interim('s1', 'sully add a note patient')).toEqual([]);
    expect(tracker.interim('s1', 'sully add a note patient is stable')).toMatchObject([
      { slots: { text: 'patient is stable' } },
    ]);
    const span = { start: 1, end: 3 };
    expect(tracker.final('s1', 'sully add a note patient is stable', span)).toMatchObject([
      { name: 'add_note' },
    ]);
    // The same final again (a resumed client, a resend): nothing runs twice.
    expect(tracker.final('s1', 'sully add a note patient is stable', span)).toEqual([]);
    expect(tracker.interim('s1', 'sully add a note patient is stable')).toEqual([]);
  });

  it('does not run again a command a provider replay transcribed twice, but runs a new one', () => {
    const tracker = new CommandTracker(createCommandDetector(defaults));
    expect(tracker.final('a', 'sully order a lipid panel', { start: 10, end: 12 })).toHaveLength(1);
    expect(tracker.final('b', 'sully order a lipid panel', { start: 10.2, end: 12.1 })).toEqual([]);
    expect(tracker.final('c', 'sully order a lipid panel', { start: 40, end: 42 })).toHaveLength(1);
  });
});

describe('command sets per tenant', () => {
  it('extends the defaults: adds, replaces, disables, merges lexicons', () => {
    const set = extendCommandSet(
      { ...defaults, lexicons: { drug: ['aspirin'] } },
      {
        add: [{ name: 'page_nurse', patterns: ['page the nurse'] }],
        replace: [{ name: 'add_note', patterns: ['note {text}'] }],
        disable: ['order_lab'],
        wakeWords: ['doc'],
        lexicons: { drug: ['heparin'] },
      },
    );
    expect(set.commands.map((c) => c.name)).toEqual(['add_note', 'page_nurse']);
    expect(set.lexicons).toEqual({ drug: ['aspirin', 'heparin'] });
    const detector = createCommandDetector(set);
    expect(detector.detect('doc note call back')).toMatchObject([{ name: 'add_note' }]);
    expect(() => extendCommandSet(defaults, { disable: ['nope'] })).toThrow(/do not have/);
  });

  it('resolves a session’s detector from its metadata, compiles each tenant once, and can turn commands off', () => {
    let compiled = 0;
    const resolve = createCommandResolver<{ org?: string }>({
      defaults,
      tenantOf: (m) => m.org,
      overridesOf: (org) => {
        compiled++;
        if (org === 'quiet') return null;
        if (org === 'dental') return { disable: ['order_lab'] };
        return undefined;
      },
    });
    expect(resolve({})?.commands).toHaveLength(2);
    expect(resolve({ org: 'dental' })?.commands).toHaveLength(1);
    expect(resolve({ org: 'dental' })?.commands).toHaveLength(1);
    expect(resolve({ org: 'quiet' })).toBeUndefined();
    expect(resolve({ org: 'other' })?.commands).toHaveLength(2);
    expect(compiled).toBe(3);
  });
});
