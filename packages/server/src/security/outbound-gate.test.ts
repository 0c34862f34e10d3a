import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { droppable, sendBounded } from './outbound-gate.js';

/** A socket with a given backlog, recording what is sent and how it is closed. */
function socketWith(bufferedAmount: number) {
  const sent: string[] = [];
  const closed: number[] = [];
  const socket = {
    OPEN: 1,
    readyState: 1,
    bufferedAmount,
    send: (text: string) => sent.push(text),
    close: (code: number) => closed.push(code),
  } as unknown as WebSocket;
  return { socket, sent, closed };
}

const limits = { softBytes: 1000, hardBytes: 5000 };
const interim = {
  type: 'transcript',
  segmentId: 's',
  isFinal: false,
  text: 'hel',
  words: [],
} as const;
const final = { ...interim, isFinal: true, text: 'hello' } as const;

describe('sending to a slow reader', () => {
  it('sends everything while the backlog is small', () => {
    const { socket, sent } = socketWith(10);
    expect(sendBounded(socket, 'a', droppable(interim as never), limits)).toBe(true);
    expect(sendBounded(socket, 'b', droppable(final as never), limits)).toBe(true);
    expect(sent).toEqual(['a', 'b']);
  });

  it('drops interims past the soft limit, never finals', () => {
    const { socket, sent, closed } = socketWith(2000);
    expect(sendBounded(socket, 'interim', droppable(interim as never), limits)).toBe(false);
    expect(sendBounded(socket, 'final', droppable(final as never), limits)).toBe(true);
    expect(sent).toEqual(['final']);
    expect(closed).toEqual([]);
  });

  it('closes with 1013 past the hard limit', () => {
    const { socket, sent, closed } = socketWith(6000);
    expect(sendBounded(socket, 'final', false, limits)).toBe(false);
    expect(sent).toEqual([]);
    expect(closed).toEqual([1013]);
  });
});
