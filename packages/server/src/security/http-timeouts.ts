import type { Server, ServerOptions } from 'node:http';
import { EarshotError, type Logger } from '@earshot/protocol';

/**
 * How long Node's `http` server waits for a client's request before it answers 408 and closes
 * the connection. Without them a client that sends its headers (or body) a byte at a time
 * ("slowloris") holds a connection, and its memory, for as long as it likes. They cover the
 * HTTP request only: a WebSocket, once upgraded, is no longer an HTTP request and is not cut.
 */
export interface HttpTimeoutOptions {
  /**
   * Seconds a client has to send a request's headers, upgrades included (Node's
   * `headersTimeout`). Default 20: a real client sends them in one packet.
   */
  readonly headersTimeoutSeconds: number;
  /**
   * Seconds a client has to send a whole request, body included (Node's `requestTimeout`); at
   * least `headersTimeoutSeconds`. Default 60: Earshot's REST bodies are at most 64 KiB of JSON.
   */
  readonly requestTimeoutSeconds: number;
  /**
   * How often Node looks for requests past those timeouts (Node's
   * `connectionsCheckingInterval`), so a slow client may last up to this much longer. Default 5
   * (Node's own is 30).
   */
  readonly checkIntervalSeconds: number;
}

/** Defaults of {@link HttpTimeoutOptions}. */
export const DEFAULT_HTTP_TIMEOUTS: HttpTimeoutOptions = Object.freeze({
  headersTimeoutSeconds: 20,
  requestTimeoutSeconds: 60,
  checkIntervalSeconds: 5,
});

/**
 * The options of Node's `http.createServer` that enforce `timeouts` (defaults filled in).
 * Throws `invalid_request` for a timeout that is not a positive number (Earshot never turns
 * them off: 0 would let slow clients hold connections forever) or a headers timeout longer
 * than the request timeout (Node refuses that too).
 *
 * @example
 * ```ts
 * const http = createServer(httpServerTimeouts({ headersTimeoutSeconds: 10 }));
 * ```
 */
export function httpServerTimeouts(
  timeouts: Partial<HttpTimeoutOptions> = {},
): Required<
  Pick<ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'>
> {
  const chosen: HttpTimeoutOptions = {
    headersTimeoutSeconds:
      timeouts.headersTimeoutSeconds ?? DEFAULT_HTTP_TIMEOUTS.headersTimeoutSeconds,
    requestTimeoutSeconds:
      timeouts.requestTimeoutSeconds ?? DEFAULT_HTTP_TIMEOUTS.requestTimeoutSeconds,
    checkIntervalSeconds:
      timeouts.checkIntervalSeconds ?? DEFAULT_HTTP_TIMEOUTS.checkIntervalSeconds,
  };
  for (const [name, seconds] of Object.entries(chosen)) {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
      throw new EarshotError(
        'invalid_request',
        `httpTimeouts.${name} must be a positive number of seconds (got ${String(seconds)})`,
      );
    }
  }
  if (chosen.headersTimeoutSeconds > chosen.requestTimeoutSeconds) {
    throw new EarshotError(
      'invalid_request',
      'httpTimeouts.headersTimeoutSeconds must not exceed requestTimeoutSeconds',
    );
  }
  // Node takes whole milliseconds; a fraction of one would round a tiny timeout to 0 (off).
  const ms = (seconds: number) => Math.max(1, Math.round(seconds * 1000));
  return {
    headersTimeout: ms(chosen.headersTimeoutSeconds),
    requestTimeout: ms(chosen.requestTimeoutSeconds),
    connectionsCheckingInterval: ms(chosen.checkIntervalSeconds),
  };
}

const warned = new WeakSet<Server>();

/**
 * Logs a warning, once per server, when `server` has Node's `headersTimeout` or
 * `requestTimeout` turned off (0): slow clients could then hold its connections forever.
 * The app's server is its own, so Earshot names the setting and leaves the value alone.
 * Note that `createServer({ requestTimeout: 0 })` turns `headersTimeout` off too.
 */
export function warnIfHttpTimeoutsOff(server: Server, logger: Logger): void {
  if (warned.has(server)) return;
  const off = (['headersTimeout', 'requestTimeout'] as const).filter((name) => server[name] === 0);
  if (off.length === 0) return;
  warned.add(server);
  logger.warn(
    { settings: off },
    `the http server Earshot is attached to has ${off.map((name) => `${name} = 0`).join(' and ')}: ` +
      'clients that send their requests slowly (slowloris) can hold connections open forever; ' +
      'set it to a positive number of milliseconds (Node defaults: headersTimeout 60000, requestTimeout 300000)',
  );
}
