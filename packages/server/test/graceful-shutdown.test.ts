import { createLocalProvider } from '@earshot/providers/local';
import { JsonSocket } from '@earshot/testing';
import { describe, expect, it } from 'vitest';
import { listen } from '../src/adapters/node.js';
import { createMemoryStore } from '../src/stores/memory-store.js';
import type { Store } from '../src/stores/store.js';

// What close() refuses while it drains, in process. The whole shutdown of a real process on
// SIGTERM (drain, finals stored, 1001, exit within the deadline) is
// tests/e2e/graceful-shutdown.test.ts.
describe('a server shutting down', () => {
  it('refuses with 503 an upgrade whose admission was still pending when close() began', async () => {
    // The admission of a minted token reads its session from the store: held here until
    // close() has begun.
    const memory = createMemoryStore();
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reading!: () => void;
    const read = new Promise<void>((resolve) => {
      reading = resolve;
    });
    const store = new Proxy(memory, {
      get(target, key) {
        if (key === 'getSession') {
          return async (id: string) => {
            reading();
            await held;
            return target.getSession(id);
          };
        }
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Store;
    // Never opened: nothing here reaches a provider.
    const provider = createLocalProvider();
    const server = await listen({ provider, store, port: 0, metrics: false });
    let closing: Promise<void> | undefined;
    try {
      const minted = await fetch(`${server.url}/v1/sessions`, { method: 'POST', body: '{}' });
      const { url } = (await minted.json()) as { url: string };
      const refusal = JsonSocket.refusal(url);
      await read;
      closing = server.close();
      release();
      expect(await refusal).toBe(503);
    } finally {
      release();
      await (closing ?? server.close());
      await provider.close();
    }
  });
});
