import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SttProvider } from '@earshot/providers';
import { createEarshotServer } from '@earshot/server';
import express from 'express';

/** The example app, listening. */
export interface RunningApp {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * An Express 5 app with Earshot mounted: the app's own routes, Earshot's REST routes
 * (`/v1/sessions`, …) as one middleware, and the WebSocket (`/v1/listen`) on the HTTP
 * server's `upgrade` event, which Express never sees.
 */
export async function startApp(provider: SttProvider, port = 0): Promise<RunningApp> {
  const earshot = createEarshotServer({ provider });
  const app = express();
  app.get('/api/hello', (_req, res) => {
    res.json({ hello: 'from express' });
  });
  // Earshot answers its own routes and passes everything else on.
  app.use((req, res, next) => {
    earshot.handleRequest(req, res).then((handled) => handled || next(), next);
  });

  const http: Server = createServer(app);
  http.on('upgrade', (req, socket, head) => {
    if (!earshot.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  const { port: bound } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    async close() {
      await earshot.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
