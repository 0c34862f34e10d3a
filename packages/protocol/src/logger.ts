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
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
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
