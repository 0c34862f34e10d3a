import { en } from 'zod/locales';
import * as z from 'zod/mini';

/**
 * A copy of `schema` carrying `description` in zod's global registry, which is where
 * `z.toJSONSchema` reads descriptions from (so they reach docs/protocol.md and the JSON Schema).
 * It is zod/mini's counterpart of classic zod's `.describe()`, and like it returns a clone: one
 * shared schema (e.g. `AudioFormatSchema`) can be described differently in two places without
 * one description overwriting the other. The clone keeps the original as its parent, so it
 * inherits the original's description until given its own.
 *
 * It also installs zod's English issue messages when the app has chosen no locale, as classic
 * zod does when it builds its first schema: zod/mini alone words every issue "Invalid input",
 * and the protocol's validation errors (sent on the wire, thrown by the client) would lose
 * their detail.
 *
 * @internal
 */
// @__NO_SIDE_EFFECTS__
export function described<T extends z.ZodMiniType>(schema: T, description: string): T {
  if (!z.config().localeError) z.config(en());
  const copy = schema.clone();
  z.globalRegistry.add(copy, { description });
  return copy;
}
