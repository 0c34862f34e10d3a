import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalProvider } from '@earshot/providers/local';
import { createEarshotServer } from '@earshot/server';
import { shutdownOnSignals } from '@earshot/server/node';
import next from 'next';

// Next has no WebSocket routes of its own, so a custom server owns the HTTP server: Earshot
// takes its upgrade (`/v1/listen`) and REST routes (`/v1/...`), Next everything else,
// including its own dev-mode upgrades (HMR).
const dev = process.env.NODE_ENV !== 'production';
const app = next({ dev, dir: import.meta.dirname });
await app.prepare();
const handle = app.getRequestHandler();
const upgradeNext = app.getUpgradeHandler();
const provider = createLocalProvider();
const earshot = createEarshotServer({ provider });

const http = createServer(async (req, res) => {
  if (await earshot.handleRequest(req, res)) return;
  await handle(req, res);
});
http.on('upgrade', (req, socket, head) => {
  if (!earshot.handleUpgrade(req, socket, head)) void upgradeNext(req, socket, head);
});
http.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  const { port } = http.address() as AddressInfo;
  console.log(`Next + Earshot ready: http://127.0.0.1:${port}`);
});

// SIGTERM/SIGINT: Earshot refuses new sessions while the live ones drain, then everything
// closes and the process exits; after 25 s, or on a second signal, it exits anyway.
shutdownOnSignals(async () => {
  await earshot.close();
  await provider.close();
  http.close();
});
