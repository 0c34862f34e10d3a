import { describe, expect, it } from 'vitest';
import { ARRIVAL_STEP_SECONDS, ArrivalTimeline } from './arrival-timeline.js';

/** Real-time frames of `frameMs` from `from` seconds for `seconds`, arriving 1 ms per 1 ms. */
function stream(timeline: ArrivalTimeline, frameMs: number, from: number, seconds: number) {
  for (let t = from + frameMs / 1000; t <= from + seconds + 1e-9; t += frameMs / 1000) {
    timeline.record(t, 10_000 + t * 1000);
  }
}

describe('ArrivalTimeline', () => {
  it('tells when the audio up to a point had all arrived, to within its step', () => {
    const timeline = new ArrivalTimeline();
    stream(timeline, 20, 0, 10);
    const at = timeline.arrivedAt(4.01)!;
    expect(at).toBeGreaterThanOrEqual(10_000 + 4010);
    expect(at).toBeLessThanOrEqual(10_000 + 4010 + (ARRIVAL_STEP_SECONDS + 0.02) * 1000);
  });

  it('knows nothing of audio that has not arrived', () => {
    const timeline = new ArrivalTimeline();
    expect(timeline.arrivedAt(0.5)).toBeUndefined();
    stream(timeline, 100, 0, 1);
    expect(timeline.arrivedAt(1.5)).toBeUndefined();
  });

  it('forgets what comes before a final once that final is timed', () => {
    const timeline = new ArrivalTimeline();
    stream(timeline, 20, 0, 30);
    const held = timeline.length;
    expect(timeline.arrivedAt(25, true)).toBeDefined();
    expect(timeline.length).toBeLessThan(held / 5);
    // What is left still times the next final exactly as before.
    expect(timeline.arrivedAt(29)).toBeCloseTo(10_000 + 29_000, -2);
  });

  it('holds at most five minutes of audio at its step, however long a session goes without a final', () => {
    const timeline = new ArrivalTimeline();
    stream(timeline, 20, 0, 3600);
    expect(timeline.length).toBeLessThanOrEqual(300 / ARRIVAL_STEP_SECONDS + 1);
    // The last five minutes are still there, in order, across the ring's wrap.
    expect(timeline.arrivedAt(3400)).toBeCloseTo(10_000 + 3_400_000, -2);
    expect(timeline.arrivedAt(3599.9)).toBeCloseTo(10_000 + 3_599_900, -2);
  });

  it('keeps its order across growing and wrapping while finals consume its front', () => {
    const timeline = new ArrivalTimeline();
    let audio = 0;
    for (let utterance = 0; utterance < 200; utterance++) {
      stream(timeline, 20, audio, 3);
      audio += 3;
      const at = timeline.arrivedAt(audio - 0.5, true)!;
      expect(Math.abs(at - (10_000 + (audio - 0.5) * 1000))).toBeLessThanOrEqual(80);
    }
    expect(timeline.length).toBeLessThan(20);
  });
});
