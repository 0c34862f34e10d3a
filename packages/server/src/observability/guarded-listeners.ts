import type { Logger } from '@earshot/protocol';
import type { ServerEventMap, ServerEvents } from '../server-events.js';

/** Listeners for some of the server's events. */
export type ServerEventListeners = {
  [K in keyof ServerEventMap]?: (...args: ServerEventMap[K]) => void;
};

/**
 * Subscribes `listeners` to `events`, each wrapped so that an error in it is logged instead of
 * thrown: server events are emitted on a session's path, which a metrics bug must not break.
 * Returns the function that unsubscribes them all.
 */
export function subscribeGuarded(
  events: ServerEvents,
  listeners: ServerEventListeners,
  logger: Logger,
  what: string,
): () => void {
  const unsubscribes: (() => void)[] = [];
  for (const name of Object.keys(listeners) as (keyof ServerEventMap)[]) {
    const listener = listeners[name] as (...args: unknown[]) => void;
    const guarded = (...args: unknown[]) => {
      try {
        listener(...args);
      } catch (error) {
        logger.warn({ err: error, event: name }, `${what} could not record a server event`);
      }
    };
    // eventemitter3 types a listener per event name; `guarded` forwards whatever it is given.
    events.on(name, guarded as never);
    unsubscribes.push(() => events.off(name, guarded as never));
  }
  return () => {
    for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
  };
}
