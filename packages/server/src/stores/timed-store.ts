import type { ServerEvents } from '../server-events.js';
import type { Store } from './store.js';

type Operation = Exclude<keyof Store, 'kind' | 'close'>;

// A record rather than a list: a method added to Store and not here fails to compile, instead
// of being missing from the timed store at run time.
const TIMED: Record<Operation, true> = {
  createSession: true,
  updateSession: true,
  getSession: true,
  listSessions: true,
  appendSegment: true,
  getSegments: true,
  appendEvent: true,
  getEvents: true,
  replaceContent: true,
  deleteSessionsBefore: true,
  ping: true,
};

/**
 * The same store, reporting how long each operation took (and whether it failed) as a
 * `store_operation` event: the source of the store latency metrics.
 */
export function timedStore(store: Store, events: ServerEvents): Store {
  const timed: Record<string, unknown> = { kind: store.kind, close: () => store.close() };
  for (const operation of Object.keys(TIMED) as Operation[]) {
    const method = store[operation] as (...args: unknown[]) => Promise<unknown>;
    timed[operation] = async (...args: unknown[]) => {
      const started = performance.now();
      let ok = false;
      try {
        const result = await method.apply(store, args);
        ok = true;
        return result;
      } finally {
        events.emit('store_operation', { operation, ms: performance.now() - started, ok });
      }
    };
  }
  return timed as unknown as Store;
}
