import { describe, expect, it } from 'vitest';
import { type SpokenItem, SpokenItemOrder } from './openai-item-order.js';
import { parseServerEvent } from './openai-wire.js';

function recorder() {
  const log: string[] = [];
  const order = new SpokenItemOrder({
    interim: (item) => log.push(`interim ${item.id} ${item.text}`),
    utteranceEnd: (item) => log.push(`pause ${item.id} ${item.end}`),
    settle: (item: SpokenItem) =>
      log.push(
        `settle ${item.id} ${item.outcome?.kind === 'completed' ? item.outcome.transcript : `failed:${item.outcome?.error.code}`}`,
      ),
  });
  return { order, log };
}

describe('SpokenItemOrder', () => {
  it("passes the head item's deltas through as interims and settles it on completed", () => {
    const { order, log } = recorder();
    order.speechStarted('a', 0.5);
    order.delta('a', 'hello');
    order.delta('a', ' world');
    order.speechStopped('a', 1.5);
    order.committed('a', null);
    order.completed('a', 'hello world');
    expect(log).toEqual([
      'interim a hello',
      'interim a hello world',
      'pause a 1.5',
      'settle a hello world',
    ]);
    expect(order.size).toBe(0);
  });

  it('holds an item that completes before its predecessor, then releases both in spoken order', () => {
    const { order, log } = recorder();
    order.committed('a', null);
    order.committed('b', 'a');
    order.delta('b', 'second');
    order.speechStopped('b', 2);
    order.completed('b', 'second');
    expect(log).toEqual([]);
    order.delta('a', 'first');
    order.completed('a', 'first');
    expect(log).toEqual(['interim a first', 'settle a first', 'pause b 2', 'settle b second']);
  });

  it('replays a held item’s latest deltas as one interim when it becomes the head', () => {
    const { order, log } = recorder();
    order.committed('a', null);
    order.committed('b', 'a');
    order.delta('b', 'how');
    order.delta('b', ' are');
    order.completed('a', 'hi');
    expect(log).toEqual(['settle a hi', 'interim b how are']);
  });

  it('places a committed item after its previous_item_id, ahead of speech heard later', () => {
    const { order, log } = recorder();
    // 'c' was heard (speech started) before the commits of 'a' and 'b' arrived.
    order.speechStarted('c', 3);
    order.committed('a', 'settled-long-ago');
    order.committed('b', 'a');
    order.completed('b', 'two');
    order.completed('c', 'three');
    order.completed('a', 'one');
    expect(log).toEqual(['settle a one', 'settle b two', 'settle c three']);
  });

  it('settles a failed item with its error, in order', () => {
    const { order, log } = recorder();
    order.committed('a', null);
    order.committed('b', 'a');
    order.completed('b', 'fine');
    order.failed('a', { type: 'server_error', code: 'transcription_failed', message: 'no' });
    expect(log).toEqual(['settle a failed:transcription_failed', 'settle b fine']);
  });

  it('ignores events for items that have settled', () => {
    const { order, log } = recorder();
    order.committed('a', null);
    order.completed('a', 'done');
    order.delta('a', 'late');
    order.completed('a', 'again');
    order.committed('a', null);
    expect(log).toEqual(['settle a done']);
    expect(order.size).toBe(0);
  });

  it('drops uncommitted speech when the buffer is cleared', () => {
    const { order } = recorder();
    order.speechStarted('a', 1);
    expect(order.speaking).toBe(true);
    order.cleared();
    expect(order.size).toBe(0);
    expect(order.speaking).toBe(false);
  });

  it('flush() settles every pending item with the deltas it has, in order', () => {
    const { order, log } = recorder();
    order.committed('a', null);
    order.delta('a', 'partial');
    order.committed('b', 'a');
    order.completed('b', 'whole');
    order.speechStarted('c', 5);
    order.flush();
    expect(log).toEqual(['interim a partial', 'settle a partial', 'settle b whole', 'settle c ']);
  });
});

describe('parseServerEvent', () => {
  it('accepts the events the provider reads', () => {
    expect(
      parseServerEvent({
        type: 'input_audio_buffer.committed',
        event_id: 'e1',
        item_id: 'i1',
        previous_item_id: null,
      }),
    ).toMatchObject({ kind: 'event', event: { item_id: 'i1' } });
  });

  it('lets other event types through as ignored', () => {
    expect(parseServerEvent({ type: 'conversation.item.added', item: {} })).toEqual({
      kind: 'ignored',
      type: 'conversation.item.added',
    });
  });

  it('names the field of an event that does not match its schema', () => {
    expect(
      parseServerEvent({
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: 'i1',
        transcript: 42,
      }),
    ).toEqual({
      kind: 'invalid',
      type: 'conversation.item.input_audio_transcription.completed',
      problem: 'bad or missing transcript',
    });
    expect(parseServerEvent({ type: 'error', error: { message: 'x' } })).toMatchObject({
      kind: 'invalid',
    });
  });
});
