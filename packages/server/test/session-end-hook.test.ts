import { silentLogger } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import { readWavPcm16, speechFixtures, until } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import { type EndedSession, runSessionEndHook } from '../src/session/session-end-hook.js';
import { createMemoryStore } from '../src/stores/memory-store.js';
import type { Store } from '../src/stores/store.js';
import { WsProbe } from './ws-probe.js';

// Seed 001 extracts answers from the transcript when a session ends. The hook gets the whole
// session, is retried when it fails, and what it returns is stored with the session, as are
// the session's figures.
const provider = createLocalProvider({ maxConcurrentStreams: 2 });
const store: Store = createMemoryStore();
const calls: EndedSession[] = [];
let failuresLeft = 1;
let server: RunningServer;
let speech: Buffer;

beforeAll(async () => {
  server = await listen({
    provider,
    store,
    port: 0,
    onSessionEnd: {
      handler: async (session) => {
        calls.push(session);
        if (failuresLeft-- > 0) throw new Error('the extraction service is busy');
        return { words: session.transcript.split(' ').length, patient: session.metadata.patient };
      },
      retries: 2,
      backoffMs: 10,
    },
  });
  const [fixture] = await speechFixtures();
  speech = (await readWavPcm16(fixture!.path)).pcm;
});

afterAll(async () => {
  await server.close();
  await provider.close();
});

describe('when a session ends', () => {
  it('runs onSessionEnd with the whole transcript, retries it, and stores its result and the metrics', async () => {
    const probe = await WsProbe.open(`${server.url.replace('http', 'ws')}/v1/listen`);
    probe.sendJson({
      type: 'start',
      audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
      metadata: { patient: 'p-7' },
    });
    const ready = await probe.next('ready');
    for (let at = 0; at < speech.byteLength; at += 3200)
      probe.sendBinary(speech.subarray(at, at + 3200));
    probe.sendJson({ type: 'stop' });
    const closed = await probe.next('closed');
    const sessionId = ready.sessionId;

    await until(async () => (await store.getEvents(sessionId)).length > 0, 10_000);
    const events = await store.getEvents(sessionId);
    const hook = events.find((e) => e.type === 'session_end_hook');
    const stored = (await store.getSegments(sessionId)).map((s) => s.text).filter(Boolean);
    expect(calls).toHaveLength(2); // failed once, then succeeded
    expect(calls[1]).toMatchObject({ sessionId, reason: 'stopped', metadata: { patient: 'p-7' } });
    expect(calls[1]!.transcript).toBe(stored.join(' '));
    expect(hook?.data).toEqual({
      ok: true,
      attempts: 2,
      result: { words: stored.join(' ').split(' ').length, patient: 'p-7' },
    });

    const record = await store.getSession(sessionId);
    expect(record?.metrics).toMatchObject({
      bytesReceived: speech.byteLength,
      chunksReceived: Math.ceil(speech.byteLength / 3200),
      finalSegments: closed.summary.finalSegments,
      resumes: 0,
      errors: 0,
    });
    expect(record?.metrics?.audioSeconds).toBeCloseTo(speech.byteLength / 32000, 3);
    expect(record?.metrics?.firstTranscriptMs).toBeGreaterThan(0);
    expect(record?.metrics?.providerLatencyMs?.count).toBeGreaterThan(0);
  });
});

describe('runSessionEndHook', () => {
  const session = { sessionId: 's' } as EndedSession;

  it('gives up after its retries and says why', async () => {
    let attempts = 0;
    const outcome = await runSessionEndHook(
      {
        handler: () => {
          attempts++;
          throw new Error('down');
        },
        retries: 2,
        backoffMs: 1,
      },
      session,
      silentLogger,
    );
    expect(attempts).toBe(3);
    expect(outcome).toEqual({ ok: false, attempts: 3, error: 'down' });
  });

  it('aborts an attempt that takes too long, through its signal', async () => {
    let aborted = false;
    const outcome = await runSessionEndHook(
      {
        handler: (_s, signal) =>
          new Promise(() => {
            signal.addEventListener('abort', () => {
              aborted = true;
            });
          }),
        retries: 0,
        timeoutMs: 20,
      },
      session,
      silentLogger,
    );
    expect(aborted).toBe(true);
    expect(outcome).toMatchObject({ ok: false, attempts: 1, error: 'timed out after 20 ms' });
  });

  it('stores a result that is not JSON as text, and undefined as null', async () => {
    expect(await runSessionEndHook(() => undefined, session, silentLogger)).toEqual({
      ok: true,
      attempts: 1,
      result: null,
    });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(await runSessionEndHook(() => circular, session, silentLogger)).toMatchObject({
      ok: true,
      result: '[object Object]',
    });
  });
});
