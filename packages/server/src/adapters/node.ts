import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createEarshotServer,
  type EarshotServer,
  type EarshotServerOptions,
} from '../earshot-server.js';

/** Options of {@link listen}: the server's options plus where to listen. */
export interface ListenOptions extends EarshotServerOptions {
  /** TCP port; 0 picks a free one. Defaults to 8787. */
  readonly port?: number;
  /** Interface to bind. Defaults to `127.0.0.1`. */
  readonly host?: string;
}

/** A running plain-`http` Earshot server. */
export interface RunningServer {
  readonly http: Server;
  readonly earshot: EarshotServer;
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  /** Ends every session, then stops listening. */
  close(): Promise<void>;
}

/**
 * Starts Earshot on its own Node `http` server: the adapter for apps with no framework.
 *
 * @example
 * ```ts
 * import { listen } from '@earshot/server/node';
 * import { createLocalProvider } from '@earshot/providers/local';
 *
 * const { url } = await listen({ provider: createLocalProvider(), port: 8787 });
 * ```
 */
export async function listen(options: ListenOptions): Promise<RunningServer> {
  const earshot = createEarshotServer(options);
  const http = createServer();
  earshot.attach(http);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 8787, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const { port } = http.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    http,
    earshot,
    url: `http://${shownHost}:${port}`,
    async close() {
      await earshot.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
