import { EarshotError, type Logger, silentLogger } from '@earshot/protocol';

/**
 * What {@link shutdownOnSignals} shuts down: anything with `close()` (a `RunningServer` from
 * `listen`, an `EarshotServer`), or a function that closes your own things too.
 */
export type ShutdownTarget =
  | {
      /** Stops it gracefully; the process exits once this settles. */
      close(): Promise<unknown>;
    }
  | (() => Promise<unknown>);

/** Options of {@link shutdownOnSignals}. */
export interface ShutdownOnSignalsOptions {
  /** The signals that start the shutdown. Default `['SIGTERM', 'SIGINT']`. */
  readonly signals?: readonly NodeJS.Signals[];
  /**
   * How long the shutdown may take, in ms, before the process exits with code 1 anyway.
   * Default 25 000: inside the 30 s a container orchestrator (Kubernetes' default
   * `terminationGracePeriodSeconds`) waits after SIGTERM before it sends SIGKILL.
   */
  readonly deadlineMs?: number;
  /** Where the shutdown is reported (pino-compatible). Silent by default. */
  readonly logger?: Logger;
  /** Ends the process with a code. Default `process.exit`; a test passes its own. */
  readonly exit?: (code: number) => void;
}

const DEFAULT_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
const DEFAULT_DEADLINE_MS = 25_000;

/**
 * Shuts the server down gracefully when the process is asked to stop. On the first of
 * `signals` it calls `close()`: the server refuses new connections and new sessions (HTTP 503)
 * while every live session drains (the provider's last finals are stored and sent, then
 * `closed` with reason `shutdown`, then close code 1001), and the process exits with code 0
 * once `close()` resolves, or 1 if it rejects. If `close()` has not finished within
 * `deadlineMs` (a provider or store that hangs), the process exits with code 1 anyway; the
 * deadline's timer never keeps the process alive by itself. A second signal exits at once
 * with code 1.
 *
 * Returns a function that removes the signal listeners (a shutdown already begun goes on).
 *
 * A provider that never answers its flush is given up after the resilient layer's
 * `finalTimeoutSeconds` (10 s), or, with `resilience: false`, after `limits.stopTimeoutSeconds`
 * (30 s); its session still ends with `closed` and 1001. Keep these below `deadlineMs` for
 * every client to be told before the process exits.
 *
 * @example
 * ```ts
 * import { listen, shutdownOnSignals } from '@earshot/server/node';
 * import { createLocalProvider } from '@earshot/providers/local';
 *
 * const server = await listen({ provider: createLocalProvider(), port: 8787 });
 * shutdownOnSignals(server, { deadlineMs: 25_000, logger: console });
 *
 * // Or, instead, close your own resources too once Earshot's sessions have drained:
 * shutdownOnSignals(async () => {
 *   await server.close();
 *   await database.end();
 * });
 * ```
 */
export function shutdownOnSignals(
  target: ShutdownTarget,
  options: ShutdownOnSignalsOptions = {},
): () => void {
  const signals = options.signals ?? DEFAULT_SIGNALS;
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  if (!Number.isFinite(deadlineMs) || deadlineMs <= 0) {
    throw new EarshotError('invalid_request', 'deadlineMs must be a positive number of ms');
  }
  const logger = options.logger ?? silentLogger;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const close = typeof target === 'function' ? target : () => target.close();
  let started = false;
  let exited = false;
  // An injected `exit` returns: the deadline and close() may both still come to an end.
  const exitOnce = (code: number) => {
    if (exited) return;
    exited = true;
    exit(code);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (started) {
      logger.warn({ signal }, 'second signal while shutting down; exiting now');
      exitOnce(1);
      return;
    }
    started = true;
    logger.info({ signal, deadlineMs }, 'shutting down: refusing new sessions, draining live ones');
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs }, 'shutdown did not finish within its deadline; exiting');
      exitOnce(1);
    }, deadlineMs);
    deadline.unref();
    let closing: Promise<unknown>;
    try {
      closing = Promise.resolve(close());
    } catch (error) {
      closing = Promise.reject(error);
    }
    closing.then(
      () => {
        clearTimeout(deadline);
        logger.info({ signal }, 'shut down');
        exitOnce(0);
      },
      (error: unknown) => {
        clearTimeout(deadline);
        logger.error({ err: error }, 'shutdown failed');
        exitOnce(1);
      },
    );
  };

  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
