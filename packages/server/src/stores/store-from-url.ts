import { EarshotError } from '@earshot/protocol';
import { createMemoryStore } from './memory-store.js';
import { createPostgresStore } from './postgres-store.js';
import { createSqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

/**
 * Opens the store a URL names, as `DATABASE_URL` does for the demo:
 * `sqlite:<path>` (a file, created when missing), `postgres://…` or `postgresql://…`, or
 * `memory:`. Anything else is `invalid_request`.
 *
 * @example
 * ```ts
 * const store = await createStoreFromUrl(process.env.DATABASE_URL ?? 'sqlite:./earshot.db');
 * ```
 */
export async function createStoreFromUrl(url: string): Promise<Store> {
  if (url === 'memory:' || url === 'memory://') return createMemoryStore();
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path) throw new EarshotError('invalid_request', 'sqlite: URL needs a file path');
    return createSqliteStore({ path });
  }
  if (/^postgres(ql)?:\/\//.test(url)) return createPostgresStore({ connectionString: url });
  throw new EarshotError(
    'invalid_request',
    `unknown store URL "${url.replace(/\/\/[^@/]*@/, '//…@')}": use sqlite:<path>, postgres://… or memory:`,
  );
}
