import { afterEach, describe, expect, it, vi } from 'vitest';
import { shutdownOnSignals } from './graceful-shutdown.js';

// The helper on a signal nothing else in a test worker listens to, with `exit` recorded
// instead of ending the process. The real process, SIGTERM and all, is
// tests/e2e/graceful-shutdown.test.ts.
const SIGNAL = 'SIGUSR2';
const disposers: (() => void)[] = [];

afterEach(() => {
  for (const dispose of disposers.splice(0)) dispose();
  vi.useRealTimers();
});

/** Installs the helper on {@link SIGNAL}; resolves each exit code as `exit` is called. */
function install(close: () => Promise<unknown>, deadlineMs = 1000) {
  const codes: number[] = [];
  const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
  let exited!: (code: number) => void;
  const exit = new Promise<number>((resolve) => {
    exited = resolve;
  });
  disposers.push(
    shutdownOnSignals(close, {
      signals: [SIGNAL],
      deadlineMs,
      logger,
      exit: (code) => {
        codes.push(code);
        exited(code);
      },
    }),
  );
  return { codes, exit, logger };
}

describe('shutdownOnSignals', () => {
  it('closes on the signal and exits 0 once close() resolves', async () => {
    const close = vi.fn(async () => {});
    const { codes, exit } = install(close);
    process.emit(SIGNAL);
    expect(await exit).toBe(0);
    expect(close).toHaveBeenCalledTimes(1);
    expect(codes).toEqual([0]);
  });

  it('exits 1 when close() rejects', async () => {
    const { exit } = install(async () => {
      throw new Error('store refused to close');
    });
    process.emit(SIGNAL);
    expect(await exit).toBe(1);
  });

  it('exits 1 at the deadline when close() hangs, and only once', async () => {
    vi.useFakeTimers();
    const { codes } = install(() => new Promise(() => {}), 5000);
    process.emit(SIGNAL);
    await vi.advanceTimersByTimeAsync(4999);
    expect(codes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(codes).toEqual([1]);
  });

  it('disarms the deadline once close() has finished', async () => {
    vi.useFakeTimers();
    const { codes, logger } = install(async () => {}, 5000);
    process.emit(SIGNAL);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(codes).toEqual([0]);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('exits 1 at once on a second signal while close() runs', async () => {
    const close = vi.fn(() => new Promise(() => {}));
    const { exit } = install(close);
    process.emit(SIGNAL);
    process.emit(SIGNAL);
    expect(await exit).toBe(1);
    expect(close).toHaveBeenCalledTimes(1);
  });

  it('takes anything with close(), and its disposer removes the listeners', () => {
    const before = process.listenerCount(SIGNAL);
    const dispose = shutdownOnSignals({ close: async () => {} }, { signals: [SIGNAL] });
    expect(process.listenerCount(SIGNAL)).toBe(before + 1);
    dispose();
    expect(process.listenerCount(SIGNAL)).toBe(before);
  });

  it('refuses a deadline that is not a positive number of ms', () => {
    expect(() => shutdownOnSignals(async () => {}, { deadlineMs: 0 })).toThrow(/deadlineMs/);
  });
});
