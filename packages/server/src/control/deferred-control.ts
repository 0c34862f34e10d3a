import type { SessionControl } from './session-control.js';

/**
 * A {@link SessionControl} that becomes `pending` once it resolves, answering with `fallback`
 * until then and if it fails: the server is usable at once while its cluster bus connects.
 */
export function deferredControl(
  pending: Promise<SessionControl | undefined>,
  fallback: SessionControl,
): SessionControl {
  const use = async () => (await pending.catch(() => undefined)) ?? fallback;
  return {
    node: fallback.node,
    listLive: async (filter) => (await use()).listLive(filter),
    getLive: async (id) => (await use()).getLive(id),
    end: async (id) => (await use()).end(id),
    broadcast: async (target, payload) => (await use()).broadcast(target, payload),
    observe: async (id, observer) => (await use()).observe(id, observer),
  };
}
