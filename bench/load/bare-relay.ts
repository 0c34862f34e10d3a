// The baseline of the load bench: the least a relay between clients and a streaming STT
// provider can do. Per client one upstream socket to the provider, opened with the client's
// own path, query and Authorization; every frame forwarded untouched, text stays text and
// binary stays binary; when either side goes, the other is closed. No parsing, no session,
// no store, no resilience: what Earshot costs above this is what its features cost.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RawData, WebSocket } from '@bench-load/ws';
import { ws } from './testing-deps.js';

/** A running bare relay. */
export interface BareRelay {
  /** `ws://127.0.0.1:PORT`. */
  readonly url: string;
  /** Client sockets open now. */
  readonly clients: () => number;
  close(): Promise<void>;
}

/** Starts a bare relay on loopback that forwards every client to `upstream` (a ws:// origin). */
export async function startBareRelay(upstream: string): Promise<BareRelay> {
  const http: Server = createServer((_req, res) => res.writeHead(404).end());
  const wss = new ws.WebSocketServer({ server: http });
  wss.on('connection', (client: WebSocket, req: IncomingMessage) => relay(client, req, upstream));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    clients: () => wss.clients.size,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

function relay(client: WebSocket, req: IncomingMessage, upstreamOrigin: string): void {
  const headers = req.headers.authorization ? { authorization: req.headers.authorization } : {};
  const upstream = new ws.WebSocket(`${upstreamOrigin}${req.url ?? '/'}`, { headers });
  // Frames that arrive before the upstream is open wait for it, in order.
  let pending: [RawData, boolean][] | undefined = [];
  client.on('message', (data, isBinary) => {
    if (pending) pending.push([data, isBinary]);
    else upstream.send(data, { binary: isBinary });
  });
  upstream.on('open', () => {
    const held = pending ?? [];
    pending = undefined;
    for (const [data, isBinary] of held) upstream.send(data, { binary: isBinary });
  });
  upstream.on('message', (data, isBinary) => {
    if (client.readyState === client.OPEN) client.send(data, { binary: isBinary });
  });
  // Either side gone: the other is closed (a normal close; an abnormal code cannot be sent).
  const closeBoth = () => {
    if (upstream.readyState === upstream.CONNECTING) upstream.terminate();
    else if (upstream.readyState === upstream.OPEN) upstream.close(1000);
    if (client.readyState === client.OPEN) client.close(1000);
  };
  client.on('close', closeBoth);
  upstream.on('close', closeBoth);
  client.on('error', closeBoth);
  upstream.on('error', closeBoth);
}
