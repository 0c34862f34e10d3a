import { EarshotError } from '@earshot/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { replyAborted, withinReplyDeadline } from './reply-deadline.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Work that settles only when its signal aborts, rejecting with the signal's reason. */
const untilAborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));

describe('withinReplyDeadline', () => {
  it('resolves with what the work resolves with, and leaves no timer behind', async () => {
    const signal = new AbortController().signal;
    await expect(withinReplyDeadline(signal, 1000, 'the reply', async () => 42)).resolves.toBe(42);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('aborts the work after the deadline and rejects with timeout', async () => {
    const outcome = withinReplyDeadline(
      new AbortController().signal,
      1000,
      'espeak-ng',
      untilAborted,
    ).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(999);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const error = await outcome;
    expect(EarshotError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'timeout', message: 'espeak-ng took longer than 1000 ms' });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("aborts the work when the caller's signal aborts and rejects with an AbortError", async () => {
    const controller = new AbortController();
    const outcome = withinReplyDeadline(controller.signal, 1000, 'the reply', untilAborted).catch(
      (e: unknown) => e,
    );
    const reason = new Error('session ended');
    controller.abort(reason);
    const error = await outcome;
    expect(error).toMatchObject({
      name: 'AbortError',
      code: 'provider_error',
      fatal: false,
      details: { aborted: true },
      cause: reason,
    });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not start the work when the signal has already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const work = vi.fn(async () => 1);
    await expect(withinReplyDeadline(controller.signal, 1000, 'x', work)).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(work).not.toHaveBeenCalled();
  });

  it('passes on a failure of its own', async () => {
    const failure = new EarshotError('provider_error', 'engine broke');
    await expect(
      withinReplyDeadline(new AbortController().signal, 1000, 'x', async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
  });
});

describe('replyAborted', () => {
  it('is an EarshotError named AbortError, with the reason as its cause', () => {
    const controller = new AbortController();
    controller.abort('barge-in');
    const error = replyAborted(controller.signal);
    expect(EarshotError.isInstance(error)).toBe(true);
    expect(error.name).toBe('AbortError');
    expect(error.cause).toBe('barge-in');
  });
});
