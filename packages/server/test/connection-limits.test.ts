import { createDeepgramProvider } from '@earshot/providers/deepgram';
import {
  type DeepgramEmulator,
  JsonSocket,
  openJsonSocket,
  scriptedTranscriber,
  startDeepgramEmulator,
  until,
} from '@earshot/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import { type ConnectionLimitOptions, sttStreamDialect } from '../src/index.js';

// Connection limits hold for every transport together, before a socket is accepted, and the
// heartbeat drops peers that stopped answering.
let emulator: DeepgramEmulator;
const servers: RunningServer[] = [];
const sockets: JsonSocket[] = [];

beforeAll(async () => {
  emulator = await startDeepgramEmulator({ transcriber: scriptedTranscriber([]) });
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await emulator.close();
});

async function serve(connections: Partial<ConnectionLimitOptions>) {
  const server = await listen({
    provider: createDeepgramProvider({ apiKey: emulator.apiKey, baseUrl: emulator.endpoint }),
    port: 0,
    connections,
    dialects: [sttStreamDialect()],
  });
  servers.push(server);
  const base = server.url.replace('http', 'ws');
  return {
    server,
    open: async (path: string, options = {}) => {
      const socket = await openJsonSocket(`${base}${path}`, options);
      sockets.push(socket);
      return socket;
    },
    refusal: (path: string) => JsonSocket.refusal(`${base}${path}`),
  };
}

describe('connection limits', () => {
  it('refuses a connection over the per-address limit with 429, on any transport, and frees the place on close', async () => {
    const { open, refusal } = await serve({ maxConnectionsPerIp: 2 });
    const first = await open('/v1/listen');
    await open('/stt-stream');
    expect(await refusal('/v1/listen')).toBe(429);
    expect(await refusal('/stt-stream')).toBe(429);
    expect(await refusal('/v1/sessions/x/events')).toBe(429);
    first.socket.close();
    await first.waitClosed();
    await until(async () => {
      try {
        await open('/v1/listen');
        return true;
      } catch {
        return false;
      }
    });
  });

  it('refuses a connection over the total with 503, and counts refused upgrades back out', async () => {
    const { open, refusal } = await serve({ maxConnections: 2 });
    // A refused upgrade (a bad path of a transport) holds no place afterwards.
    for (let i = 0; i < 5; i++) expect(await refusal('/v1/sessions/x/events')).toBe(404);
    await open('/v1/listen');
    await open('/v1/listen');
    expect(await refusal('/v1/listen')).toBe(503);
  });

  it('drops a peer that answers no ping, and keeps one that does', async () => {
    const { open, server } = await serve({ heartbeatSeconds: 0.2 });
    const silent = await open('/v1/listen', { autoPong: false });
    const healthy = await open('/v1/listen');
    expect((await silent.waitClosed()).code).toBe(1006);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(healthy.closed).toBeUndefined();
    expect(server.earshot.sessions()).toHaveLength(1);
  });
});
