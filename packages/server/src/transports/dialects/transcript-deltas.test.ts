import { describe, expect, it } from 'vitest';
import { TranscriptDeltas } from './transcript-deltas.js';

describe('TranscriptDeltas', () => {
  it('sends only the text each interim appends to what was sent for its item', () => {
    const deltas = new TranscriptDeltas();
    expect(deltas.next('a', 'sully add')).toBe('sully add');
    expect(deltas.next('a', 'sully add a note')).toBe(' a note');
    expect(deltas.next('a', 'sully add a note')).toBeUndefined();
    expect(deltas.next('b', 'no new')).toBe('no new');
    expect(deltas.next('a', 'sully add a note patient')).toBe(' patient');
  });

  it('sends nothing for a revision that does not extend what was sent, and goes on from what was sent', () => {
    const deltas = new TranscriptDeltas();
    deltas.next('a', 'sully at a');
    expect(deltas.next('a', 'sully add a note')).toBeUndefined();
    expect(deltas.next('a', 'sully')).toBeUndefined();
    expect(deltas.next('a', 'sully at a nurse')).toBe(' nurse');
  });

  it('forgets an item when it settles, saying whether anything of it was sent', () => {
    const deltas = new TranscriptDeltas();
    deltas.next('a', 'hello');
    expect(deltas.settle('a')).toBe(true);
    expect(deltas.settle('a')).toBe(false);
    expect(deltas.settle('never-seen')).toBe(false);
    // A new hypothesis under a settled id starts from nothing.
    expect(deltas.next('a', 'hello')).toBe('hello');
  });

  it('forgets the oldest items whose final never came, so memory stays bounded', () => {
    const deltas = new TranscriptDeltas();
    for (let i = 0; i < 40; i++) deltas.next(`item-${i}`, 'words');
    expect(deltas.settle('item-0')).toBe(false);
    expect(deltas.settle('item-23')).toBe(false);
    expect(deltas.settle('item-24')).toBe(true);
    expect(deltas.settle('item-39')).toBe(true);
  });
});
