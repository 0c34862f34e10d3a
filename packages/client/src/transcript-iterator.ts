import type { TranscriptMessage } from '@earshot/protocol';
import { type ClientState, isTerminalState } from './client-state.js';
import type { EarshotClient } from './earshot-client.js';

/** Options of {@link EarshotClient.transcripts}. */
export interface TranscriptIteratorOptions {
  /** Yield interim transcripts too (default: finals only). */
  interim?: boolean;
  /** Stops the iteration: the pending `next()` rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * An async iterator over a client's transcripts. Transcripts are queued from the moment it is
 * created, so none is lost between two `next()` calls; the queue is drained before the end (or
 * the failure) is reported.
 */
export function transcriptIterator(
  client: EarshotClient,
  options: TranscriptIteratorOptions = {},
): AsyncIterableIterator<TranscriptMessage> {
  const { interim = false, signal } = options;
  const queue: TranscriptMessage[] = [];
  let waiter:
    | { resolve: (r: IteratorResult<TranscriptMessage>) => void; reject: (e: unknown) => void }
    | undefined;
  // Set once the iteration is over: `done` for a clean end, or the error to throw.
  let ending: { error?: unknown } | undefined;
  let finished = false;

  const onTranscript = (message: TranscriptMessage) => {
    if (!interim && !message.isFinal) return;
    if (waiter) {
      const w = waiter;
      waiter = undefined;
      w.resolve({ value: message, done: false });
    } else {
      queue.push(message);
    }
  };
  const onState = (state: ClientState) => {
    if (isTerminalState(state)) end(state === 'error' ? { error: client.failure } : {});
  };
  const onAbort = () => end({ error: signal?.reason }, true);

  function detach(): void {
    client.off('transcript', onTranscript);
    client.off('state', onState);
    signal?.removeEventListener('abort', onAbort);
  }

  function end(how: { error?: unknown }, immediate = false): void {
    if (ending) return;
    ending = how;
    detach();
    // An abort means "stop reading now", so what is queued is dropped.
    if (immediate) queue.length = 0;
    if (waiter) settle();
  }

  function settle(): void {
    const w = waiter;
    waiter = undefined;
    if (!w || !ending) return;
    finished = true;
    if ('error' in ending) w.reject(ending.error);
    else w.resolve({ value: undefined, done: true });
  }

  client.on('transcript', onTranscript);
  client.on('state', onState);
  if (signal?.aborted) end({ error: signal.reason }, true);
  else signal?.addEventListener('abort', onAbort, { once: true });
  // Created after the session ended: nothing more will come.
  if (!ending && client.state === 'closed') end({});
  if (!ending && client.state === 'error') end({ error: client.failure });

  const iterator: AsyncIterableIterator<TranscriptMessage> = {
    next() {
      const value = queue.shift();
      if (value) return Promise.resolve({ value, done: false });
      if (finished) return Promise.resolve({ value: undefined, done: true });
      if (ending) {
        return new Promise((resolve, reject) => {
          waiter = { resolve, reject };
          settle();
        });
      }
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
      });
    },
    return() {
      if (!ending) end({});
      finished = true;
      queue.length = 0;
      waiter?.resolve({ value: undefined, done: true });
      waiter = undefined;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
