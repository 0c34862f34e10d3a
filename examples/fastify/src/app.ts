import type { AddressInfo } from 'node:net';
import type { SttProvider } from '@earshot/providers';
import { createEarshotServer } from '@earshot/server';
import Fastify from 'fastify';

/** The example app, listening. */
export interface RunningApp {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A Fastify 5 app with Earshot mounted: the app's own routes, Earshot's REST routes under
 * `/v1/` handed the raw request and response (the reply is hijacked, so Fastify does not
 * answer too), and the WebSocket on the underlying server's `upgrade` event.
 */
export async function startApp(provider: SttProvider, port = 0): Promise<RunningApp> {
  const earshot = createEarshotServer({ provider });
  const app = Fastify();
  app.get('/api/hello', async () => ({ hello: 'from fastify' }));
  // Earshot reads the body itself: Fastify must not parse it first.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));
  app.all('/v1/*', async (req, reply) => {
    reply.hijack();
    if (!(await earshot.handleRequest(req.raw, reply.raw))) {
      reply.raw.writeHead(404, { 'content-type': 'application/json' });
      reply.raw.end(JSON.stringify({ error: { code: 'not_found', message: 'no such route' } }));
    }
  });
  app.server.on('upgrade', (req, socket, head) => {
    if (!earshot.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await app.listen({ port, host: '127.0.0.1' });
  const { port: bound } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    async close() {
      await earshot.close();
      await app.close();
    },
  };
}
