import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import type { TlsCredentials } from './tls.js';

/** An HTTP answer that refuses an upgrade. */
export interface UpgradeRefusal {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** Options of {@link startWsEmulatorServer}. */
export interface WsEmulatorServerOptions {
  /** Serve `wss://` with these credentials (see `loopbackCertificate`). */
  readonly tls?: TlsCredentials;
  /** The only path upgrades are accepted on (e.g. `/v1/listen`); others get 404. */
  readonly path: string;
  /** Runs at the upgrade: `undefined` accepts, an {@link UpgradeRefusal} refuses. */
  authorize(request: IncomingMessage): UpgradeRefusal | undefined;
  /** A connection was accepted. */
  onConnection(socket: WebSocket, request: IncomingMessage): void;
  /** Extra headers for the `101 Switching Protocols` answer (Deepgram's `dg-request-id`). */
  readonly responseHeaders?: (request: IncomingMessage) => Readonly<Record<string, string>>;
  /** Picks the subprotocol to echo, as `ws` `handleProtocols` does. */
  readonly handleProtocols?: (protocols: Set<string>, request: IncomingMessage) => string | false;
  /** Plain HTTP requests (not upgrades), for vendors that also answer REST. */
  readonly onRequest?: Parameters<typeof createHttpServer>[1];
}

/** A running WebSocket emulator server. */
export interface WsEmulatorServer {
  /** `ws://127.0.0.1:<port>` or `wss://127.0.0.1:<port>`. */
  readonly origin: string;
  readonly port: number;
  /** Sockets open now. */
  readonly sockets: ReadonlySet<WebSocket>;
  /** Destroys every open socket without a close frame: the client sees 1006. */
  dropAll(): void;
  /** Destroys everything and stops listening. */
  close(): Promise<void>;
}

/**
 * The loopback HTTP(S) + WebSocket server every WebSocket vendor emulator runs on: path
 * check, authorization at the upgrade (refusals are plain HTTP answers, as vendors give),
 * socket tracking for fault injection, and a clean shutdown.
 */
export async function startWsEmulatorServer(
  options: WsEmulatorServerOptions,
): Promise<WsEmulatorServer> {
  const notFound: Parameters<typeof createHttpServer>[1] = (_req, res) => {
    res.writeHead(404).end();
  };
  const onRequest = options.onRequest ?? notFound;
  const server: Server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, onRequest)
    : createHttpServer(onRequest);
  const wss = new WebSocketServer({
    noServer: true,
    ...(options.handleProtocols ? { handleProtocols: options.handleProtocols } : {}),
  });
  const sockets = new Set<WebSocket>();
  const { responseHeaders } = options;
  if (responseHeaders) {
    wss.on('headers', (headers, request) => {
      for (const [name, value] of Object.entries(responseHeaders(request))) {
        headers.push(`${name}: ${value}`);
      }
    });
  }

  server.on('upgrade', (request, socket, head) => {
    socket.on('error', () => {});
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    const refusal =
      pathname === options.path ? options.authorize(request) : ({ status: 404 } as UpgradeRefusal);
    if (refusal) {
      const headers = Object.entries(refusal.headers ?? {})
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      const body = refusal.body ?? '';
      socket.end(
        `HTTP/1.1 ${refusal.status} Refused\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headers}\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('error', () => {});
      options.onConnection(ws, request);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `${options.tls ? 'wss' : 'ws'}://127.0.0.1:${port}`,
    port,
    sockets,
    dropAll() {
      for (const ws of sockets) ws.terminate();
    },
    async close() {
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
