import { createDeepgramProvider } from '@earshot/providers/deepgram';
import { until } from '@earshot/testing';
import { describe, expect, it } from 'vitest';
import { createEarshotServer, createMemoryStore } from '../src/index.js';

// The server's `retention` option: stored sessions older than the age are deleted by the
// sweeper the server runs (its first sweep at start), newer ones are kept.
// No session runs here: the provider is never opened.
const unused = createDeepgramProvider({ apiKey: 'unused', baseUrl: 'ws://127.0.0.1:9' });

describe('retention in the server', () => {
  it('deletes ended sessions older than maxAgeDays at start, and keeps the recent ones', async () => {
    const store = createMemoryStore();
    const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
    for (const [id, endedDaysAgo] of [
      ['last-year', 400],
      ['last-month', 40],
      ['yesterday', 1],
    ] as const) {
      await store.createSession({
        id,
        status: 'ended',
        createdAt: daysAgo(endedDaysAgo + 1),
        endedAt: daysAgo(endedDaysAgo),
        metadata: {},
      });
    }
    const server = createEarshotServer({ provider: unused, store, retention: { maxAgeDays: 30 } });
    try {
      await until(async () => (await store.getSession('last-month')) === undefined, 5000);
      expect(await store.getSession('last-year')).toBeUndefined();
      expect(await store.getSession('yesterday')).toMatchObject({ id: 'yesterday' });
    } finally {
      await server.close();
    }
  });

  it('refuses a malformed retention at creation, naming it', () => {
    const store = createMemoryStore();
    expect(() =>
      createEarshotServer({
        provider: { name: 'none' } as never,
        store,
        retention: { maxAgeDays: -1 },
      }),
    ).toThrow(/maximum age/);
  });
});
