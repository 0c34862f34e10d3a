import { closedPort, type PostgresServer, startPostgres } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/stores/postgres-store.js';
import { createStoreFromUrl } from '../../src/stores/store-from-url.js';

let postgres: PostgresServer;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(() => postgres?.destroy());

const record = (id: string) => ({
  id,
  status: 'active' as const,
  createdAt: new Date().toISOString(),
  metadata: {},
});

describe('the postgres store', () => {
  it('runs its migrations once, also when several nodes open one database at once', async () => {
    const url = await postgres.createDatabase();
    const stores = await Promise.all(
      [1, 2, 3].map(() => createPostgresStore({ connectionString: url })),
    );
    await stores[0]!.createSession(record('shared'));
    expect(await stores[2]!.getSession('shared')).toMatchObject({ id: 'shared' });
    await Promise.all(stores.map((s) => s.close()));

    const again = await createPostgresStore({ connectionString: url });
    expect(await again.getSession('shared')).toMatchObject({ id: 'shared' });
    await again.close();
  });

  it('fails to open an unreachable server with store_error', async () => {
    const url = `postgres://postgres@127.0.0.1:${await closedPort()}/none`;
    await expect(
      createPostgresStore({ connectionString: url, connectionTimeoutMs: 2000 }),
    ).rejects.toMatchObject({ code: 'store_error' });
  });

  it('answers store_error while the server is down, and works again when it is back', async () => {
    const store = await createPostgresStore({
      connectionString: await postgres.createDatabase(),
      connectionTimeoutMs: 1000,
    });
    await store.createSession(record('before'));
    await postgres.stop();
    try {
      await expect(store.createSession(record('during'))).rejects.toMatchObject({
        code: 'store_error',
      });
      await expect(store.ping()).rejects.toMatchObject({ code: 'store_error' });
    } finally {
      await postgres.start();
    }
    await store.createSession(record('after'));
    const ids = (await store.listSessions()).sessions.map((s) => s.id).sort();
    expect(ids).toEqual(['after', 'before']);
    await store.close();
  });

  it('is what a postgres:// URL opens', async () => {
    const store = await createStoreFromUrl(await postgres.createDatabase());
    expect(store.kind).toBe('postgres');
    await store.close();
  });
});

describe('a store URL', () => {
  it('opens memory: and sqlite:<path>, and refuses anything else with invalid_request', async () => {
    const memory = await createStoreFromUrl('memory:');
    expect(memory.kind).toBe('memory');
    await memory.close();
    await expect(createStoreFromUrl('mysql://user:secret@host/db')).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.not.stringContaining('secret'),
    });
    await expect(createStoreFromUrl('sqlite:')).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
