import { EarshotError, silentLogger } from '@earshot/protocol';
import { until } from '@earshot/testing';
import { describe, expect, it } from 'vitest';
import { ReplyLoop, type ReplyOutcome } from './reply-loop.js';
import type { ReplyRequest, Responder } from './responder.js';

/** A responder that answers when the test says so, recording what it was asked. */
function heldResponder() {
  const asked: ReplyRequest[] = [];
  const pending: { resolve: () => void; request: ReplyRequest }[] = [];
  const responder: Responder = {
    name: 'held',
    respond: (request) =>
      new Promise((resolve, reject) => {
        asked.push(request);
        request.signal.addEventListener('abort', () => reject(request.signal.reason));
        pending.push({
          request,
          resolve: () =>
            request.transcript === 'fail'
              ? reject(new EarshotError('provider_error', 'no answer'))
              : resolve({ text: `re: ${request.transcript}` }),
        });
      }),
  };
  return { responder, asked, answerNext: () => pending.shift()?.resolve() };
}

function loopWith(responder: Responder, options: { maxHistory?: number; maxQueued?: number } = {}) {
  const outcomes: ReplyOutcome[] = [];
  const turns: string[] = [];
  const loop = new ReplyLoop(responder, (o) => void outcomes.push(o), {
    sessionId: 's1',
    metadata: () => ({ user: 'u1' }),
    logger: silentLogger,
    onTurn: (t) => turns.push(t),
    ...options,
  });
  return { loop, outcomes, turns };
}

describe('the reply loop', () => {
  it('answers one utterance at a time, in order, with the earlier exchanges as history', async () => {
    const { responder, asked, answerNext } = heldResponder();
    const { loop, outcomes, turns } = loopWith(responder, { maxHistory: 1 });
    loop.push('one');
    loop.push('two');
    loop.push('three');
    await until(() => asked.length === 1);
    expect(turns).toEqual(['one']);
    answerNext();
    await until(() => asked.length === 2);
    answerNext();
    await until(() => asked.length === 3);
    answerNext();
    await until(() => outcomes.length === 3);
    expect(outcomes.map((o) => ('reply' in o ? o.reply.text : o.error.code))).toEqual([
      're: one',
      're: two',
      're: three',
    ]);
    expect(turns).toEqual(['one', 'two', 'three']);
    // History is bounded: the third was asked with only the second exchange.
    expect(asked[2]?.history).toEqual([{ user: 'two', assistant: 're: two' }]);
    expect(asked[0]?.metadata).toEqual({ user: 'u1' });
  });

  it('delivers a failure as an error outcome and goes on to the next', async () => {
    const { responder, asked, answerNext } = heldResponder();
    const { loop, outcomes } = loopWith(responder);
    loop.push('fail');
    loop.push('after');
    await until(() => asked.length === 1);
    answerNext();
    await until(() => asked.length === 2);
    answerNext();
    await until(() => outcomes.length === 2);
    expect(outcomes[0]).toMatchObject({ transcript: 'fail', error: { code: 'provider_error' } });
    expect(outcomes[1]).toMatchObject({ reply: { text: 're: after' } });
  });

  it('drops the oldest waiting utterances beyond maxQueued, and close() aborts the one in flight', async () => {
    const { responder, asked } = heldResponder();
    const { loop, outcomes } = loopWith(responder, { maxQueued: 1 });
    loop.push('a');
    await until(() => asked.length === 1);
    loop.push('b');
    loop.push('c');
    expect(loop.busy).toBe(true);
    loop.close();
    expect(asked[0]?.signal.aborted).toBe(true);
    await until(() => !loop.busy);
    // Nothing is delivered after close, and 'b' (dropped) and 'c' (closed) were never asked.
    expect(outcomes).toEqual([]);
    expect(asked.map((r) => r.transcript)).toEqual(['a']);
  });
});
