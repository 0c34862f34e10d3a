/**
 * The logger Earshot's libraries accept: pino-compatible (object first, then a message).
 * Libraries are silent unless given one.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * createEarshotServer({ logger: pino() });
 * ```
 */
export interface Logger {
  /** Detail for debugging: every protocol error a client caused, for instance. */
  debug(obj: Record<string, unknown>, msg?: string): void;
  /** Normal life: sessions connecting and ending. */
  info(obj: Record<string, unknown>, msg?: string): void;
  /** Something went wrong and was handled (a provider that did not flush in time). */
  warn(obj: Record<string, unknown>, msg?: string): void;
  /** Something went wrong and was lost (a final the store could not keep). */
  error(obj: Record<string, unknown>, msg?: string): void;
}

const ignore = () => {};

/** A logger that drops everything: the default of every Earshot library. */
export const silentLogger: Logger = Object.freeze({
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
});
