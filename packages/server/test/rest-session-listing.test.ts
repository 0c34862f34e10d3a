import type { SessionStatus } from '@earshot/protocol';
import { seededRandom } from '@earshot/testing';
import { describe, expect, it } from 'vitest';
import type { LiveSession, SessionControl } from '../src/control/session-control.js';
import { ListSessionsQuerySchema } from '../src/rest/rest-schemas.js';
import { listSessionPage } from '../src/rest/session-listing.js';
import { createMemoryStore } from '../src/stores/memory-store.js';
import type { SessionRecord, Store } from '../src/stores/store.js';

// The merged list's paging, over many shapes of data: a real memory store, and live sessions
// as a cluster reports them. The live side is a stand-in (a mock, on purpose): it plays what
// is hard to set up for real in bulk, live sessions on other nodes that the store holds under
// another time or not yet (a node whose writes wait out a store outage).
const STATUSES: SessionStatus[] = ['created', 'active', 'ended', 'failed'];

function liveControl(live: LiveSession[]): SessionControl {
  const unused = () => Promise.reject(new Error('not used by the list'));
  return {
    node: 'node-a',
    listLive: async ({ userId } = {}) =>
      live.filter((s) => userId === undefined || s.metadata.userId === userId),
    getLive: async (id) => live.find((s) => s.sessionId === id),
    end: unused,
    broadcast: unused,
    observe: unused,
  };
}

function liveOf(id: string, createdAt: string, status: SessionStatus, userId: string): LiveSession {
  return {
    sessionId: id,
    status,
    audioBytes: 0,
    audioSeconds: 0,
    finalSegments: 0,
    startedAt: createdAt,
    metadata: { userId },
    node: 'node-b',
  };
}

/** A world of stored and live sessions, some both, some sharing a creation time. */
async function world(seed: number) {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const time = () => `2024-05-01T10:00:${String(Math.floor(random() * 20)).padStart(2, '0')}.000Z`;
  const store = createMemoryStore();
  const records: SessionRecord[] = [];
  const live: LiveSession[] = [];
  const count = 5 + Math.floor(random() * 30);
  for (let n = 0; n < count; n++) {
    const id = `s-${String(n).padStart(2, '0')}-${Math.floor(random() * 1000)}`;
    const userId = pick(['u-a', 'u-b', 'u-c']);
    const kind = pick(['stored', 'stored', 'live', 'both', 'both-shifted']);
    const createdAt = time();
    if (kind !== 'live') {
      const status = kind === 'stored' ? pick(STATUSES) : 'created';
      const record = { id, status, createdAt, metadata: { userId } };
      await store.createSession(record);
      records.push(record);
    }
    if (kind !== 'stored') {
      // Minted over REST, then connected: live from a later time than the stored one.
      const liveAt = kind === 'both-shifted' ? time() : createdAt;
      // Its status may have moved on before the store has it (started, record not updated).
      const status = pick(['created', 'active'] as const);
      live.push(liveOf(id, liveAt, status, userId));
    }
  }
  return { store, records, live, control: liveControl(live) };
}

/**
 * What the whole list must be: every session once, with its live status when it is live; at
 * its stored place when the store lists it under the filter, else at its live one.
 */
function expected(
  records: SessionRecord[],
  live: LiveSession[],
  filter: { status?: SessionStatus; userId?: string },
): string[] {
  const matches = (status: SessionStatus, user: unknown) =>
    (filter.status === undefined || status === filter.status) &&
    (filter.userId === undefined || user === filter.userId);
  const rows: { id: string; at: string }[] = [];
  for (const id of new Set([...records.map((r) => r.id), ...live.map((s) => s.sessionId)])) {
    const record = records.find((r) => r.id === id);
    const session = live.find((s) => s.sessionId === id);
    const status = session?.status ?? record!.status;
    if (record && matches(record.status, record.metadata.userId)) {
      if (filter.status === undefined || status === filter.status) {
        rows.push({ id, at: record.createdAt });
      }
    } else if (session && matches(status, session.metadata.userId)) {
      rows.push({ id, at: session.startedAt });
    }
  }
  return rows
    .sort((a, b) => (a.at === b.at ? (a.id < b.id ? 1 : -1) : a.at < b.at ? 1 : -1))
    .map((r) => r.id);
}

async function readAll(
  store: Store,
  control: SessionControl,
  query: Record<string, string | number | undefined>,
): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await listSessionPage(
      store,
      control,
      ListSessionsQuerySchema.parse({ ...query, ...(cursor ? { cursor } : {}) }),
    );
    expect(page.sessions.length).toBeLessThanOrEqual(Number(query.limit));
    ids.push(...page.sessions.map((s) => s.id));
    cursor = page.nextCursor;
    expect(++pages).toBeLessThan(200);
  } while (cursor !== undefined);
  return ids;
}

describe('the merged session list', () => {
  it('pages through any mix of stored and live sessions, listing each once in order, for every filter and page size', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const { store, records, live, control } = await world(seed);
      const random = seededRandom(seed * 7919);
      for (const filter of [
        {},
        { status: STATUSES[seed % 4]! },
        { userId: 'u-b' },
        { userId: 'u-a', status: 'active' as const },
      ]) {
        const limit = 1 + Math.floor(random() * 7);
        const got = await readAll(store, control, { ...filter, limit });
        expect(got, `seed ${seed}, ${JSON.stringify(filter)}, limit ${limit}`).toEqual(
          expected(records, live, filter),
        );
      }
    }
  });

  it('merges the live view into the stored record of the same session', async () => {
    const store = createMemoryStore();
    await store.createSession({
      id: 'both',
      status: 'created',
      createdAt: '2024-05-01T10:00:00.000Z',
      metadata: { userId: 'u-a' },
    });
    const live = liveOf('both', '2024-05-01T10:00:05.000Z', 'active', 'u-a');
    const page = await listSessionPage(
      store,
      liveControl([live]),
      ListSessionsQuerySchema.parse({}),
    );
    expect(page).toEqual({
      sessions: [
        {
          id: 'both',
          status: 'active',
          createdAt: '2024-05-01T10:00:00.000Z',
          metadata: { userId: 'u-a' },
          stored: true,
          live,
        },
      ],
    });
  });

  it('refuses a cursor it did not make', async () => {
    await expect(
      listSessionPage(
        createMemoryStore(),
        liveControl([]),
        ListSessionsQuerySchema.parse({ cursor: Buffer.from('[1,2]').toString('base64url') }),
      ),
    ).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
