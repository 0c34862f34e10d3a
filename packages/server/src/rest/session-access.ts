import type { IncomingMessage } from 'node:http';
import { EarshotError } from '@earshot/protocol';
import { isAdminRequest } from './admin-auth.js';
import type { RestContext } from './rest-router.js';

/**
 * Whether `req` may read, end or observe session `id`: an admin may (`adminAuth`, or an admin
 * principal), and so may the principal that owns it (the one `authenticate` named when the
 * session connected). Resolves `false` when the request proves neither (401); rejects with
 * `forbidden` (403) when it comes from another principal.
 */
export async function maySeeSession(
  ctx: RestContext,
  req: IncomingMessage,
  id: string,
): Promise<boolean> {
  if (await isAdminRequest(ctx.adminAuth, req)) return true;
  const principal = await ctx.authenticate?.(req);
  if (principal === undefined) return false;
  if (principal.admin === true) return true;
  const owner = await ownerOf(ctx, id);
  if (owner !== undefined && owner === principal.id) return true;
  // Not found and not theirs answer alike: a principal learns nothing of others' sessions.
  throw new EarshotError('forbidden', 'only the session’s owner or an admin may use it');
}

/** The principal that owns session `id`, live or stored. */
async function ownerOf(ctx: RestContext, id: string): Promise<string | undefined> {
  const live = await ctx.control.getLive(id);
  const owner = (live?.metadata ?? (await ctx.store.getSession(id))?.metadata)?.principalId;
  return typeof owner === 'string' ? owner : undefined;
}
