import { describe, expect, it } from 'vitest';
import { PcmHistory } from './pcm-history.js';

const samples = (from: number, count: number) =>
  Int16Array.from({ length: count }, (_, i) => from + i);
const asSamples = (bytes: Uint8Array) => [...new Int16Array(bytes.buffer)];

describe('PcmHistory', () => {
  it('copies a range that spans several chunks', () => {
    const history = new PcmHistory();
    history.append(samples(0, 4));
    history.append(samples(4, 4));
    history.append(samples(8, 4));
    expect(history.end).toBe(12);
    expect(asSamples(history.copy(2, 10))).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('forgets whole chunks before the trim point and starts copies at what it still holds', () => {
    const history = new PcmHistory();
    history.append(samples(0, 4));
    history.append(samples(4, 4));
    history.trim(5);
    expect(history.start).toBe(4);
    expect(asSamples(history.copy(0, 6))).toEqual([4, 5]);
  });

  it('pads a copy shorter than the minimum with silence', () => {
    const history = new PcmHistory();
    history.append(samples(1, 3));
    expect(asSamples(history.copy(0, 3, 5))).toEqual([1, 2, 3, 0, 0]);
  });

  it('never copies past the end of what was written', () => {
    const history = new PcmHistory();
    history.append(samples(0, 4));
    expect(asSamples(history.copy(2, 100))).toEqual([2, 3]);
  });

  it('keeps its clock when cleared', () => {
    const history = new PcmHistory();
    history.append(samples(0, 4));
    history.clear();
    history.append(samples(4, 2));
    expect(history.end).toBe(6);
    expect(asSamples(history.copy(0, 6))).toEqual([4, 5]);
  });
});
