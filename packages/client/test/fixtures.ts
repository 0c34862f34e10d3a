import { expect } from 'vitest';
import type { EarshotClient } from '../src/earshot-client.js';
import type { ScriptedServer } from './scripted-server.js';

/** A real 16 kHz mono PCM16 recording shipped by Debian's pocketsphinx test data (7.1 s). */
export const SPEECH_WAV =
  '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav';

/**
 * The teardown every client test shares: each client ended idle, closed or failed with
 * nothing left to send, every server-side socket closed, and the client never broke the
 * protocol. Then everything is released, whatever failed.
 */
export async function expectCleanTeardown(
  clients: EarshotClient[],
  server: ScriptedServer | undefined,
): Promise<void> {
  try {
    for (const c of clients) {
      expect(['idle', 'closed', 'error']).toContain(c.state);
      expect(c.bufferedAmount).toBe(0);
    }
    await server?.assertAllClosed();
    for (const conn of server?.connections ?? []) expect(conn.protocolErrors).toEqual([]);
  } finally {
    clients.length = 0;
    await server?.close();
  }
}
