import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createEarshotServer,
  type EarshotServer,
  type EarshotServerOptions,
} from '../earshot-server.js';
import { type HttpTimeoutOptions, httpServerTimeouts } from '../security/http-timeouts.js';

export { DEFAULT_HTTP_TIMEOUTS, type HttpTimeoutOptions } from '../security/http-timeouts.js';

export {
  type ShutdownOnSignalsOptions,
  type ShutdownTarget,
  shutdownOnSignals,
} from './graceful-shutdown.js';

/** Options of {@link listen}: the server's options plus where to listen. */
export interface ListenOptions extends EarshotServerOptions {
  /** TCP port; 0 picks a free one. Defaults to 8787. */
  readonly port?: number;
  /** Interface to bind. Defaults to `127.0.0.1`. */
  readonly host?: string;
  /**
   * Node's HTTP timeouts against slow clients (slowloris): `headersTimeoutSeconds` (default
   * 20), `requestTimeoutSeconds` (default 60) and `checkIntervalSeconds` (default 5), each a
   * positive number; unspecified ones keep their defaults. See {@link HttpTimeoutOptions}.
   */
  readonly httpTimeouts?: Partial<HttpTimeoutOptions>;
}

/** A running plain-`http` Earshot server. */
export interface RunningServer {
  readonly http: Server;
  readonly earshot: EarshotServer;
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  /**
   * Shuts down gracefully: refuses new upgrades and new sessions with HTTP 503 while it drains
   * every session (its last finals stored and sent, `closed` with reason `shutdown`, close
   * 1001), then stops listening. {@link shutdownOnSignals} calls it on SIGTERM.
   */
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
  // Before the Earshot server exists, so a bad timeout throws with nothing to close.
  const timeouts = httpServerTimeouts(options.httpTimeouts);
  const earshot = createEarshotServer(options);
  const http = createServer(timeouts);
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
