import type { ServerEvents } from '../server-events.js';
import type { Store } from './store.js';

const TIMED: readonly (keyof Store)[] = [
  'createSession',
  'updateSession',
  'getSession',
  'listSessions',
  'appendSegment',
  'getSegments',
  'appendEvent',
  'getEvents',
  'ping',
];

/**
 * The same store, reporting how long each operation took (and whether it failed) as a
 * `store_operation` event: the source of the store latency metrics.
 */
export function timedStore(store: Store, events: ServerEvents): Store {
  const timed: Record<string, unknown> = { kind: store.kind, close: () => store.close() };
  for (const operation of TIMED) {
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
