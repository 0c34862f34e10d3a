import type { ErrorCode } from './error-codes.js';

const marker = Symbol.for('earshot.error');

/** Options of {@link EarshotError}. */
export interface EarshotErrorOptions {
  /** The underlying error, kept for logs; never sent to a client. */
  cause?: unknown;
  /** Whether the session cannot go on after this error. Defaults to `false`. */
  fatal?: boolean;
  /** Extra machine-readable facts (e.g. the install command for a missing engine). */
  details?: Record<string, unknown>;
}

/**
 * The one error class of Earshot: a stable {@link ErrorCode}, a human message, whether it is
 * fatal to the session, and an optional cause. Vendor errors are wrapped into it at the
 * provider boundary.
 *
 * Use {@link EarshotError.isInstance} rather than `instanceof`: it works across duplicate
 * installs of this package.
 *
 * @example
 * ```ts
 * throw new EarshotError('capacity', 'local engine is at its limit of 2 streams', { fatal: true });
 * ```
 */
export class EarshotError extends Error {
  readonly code: ErrorCode;
  readonly fatal: boolean;
  readonly details: Record<string, unknown> | undefined;
  /** Brand read by {@link EarshotError.isInstance}; a symbol so copies of the package agree. */
  readonly [marker] = true;

  constructor(code: ErrorCode, message: string, options: EarshotErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EarshotError';
    this.code = code;
    this.fatal = options.fatal ?? false;
    this.details = options.details;
  }

  /** Whether `value` is an {@link EarshotError}, from any copy of this package. */
  static isInstance(value: unknown): value is EarshotError {
    return typeof value === 'object' && value !== null && marker in value;
  }

  /** Wraps anything thrown into an {@link EarshotError}, keeping one that already is. */
  static from(value: unknown, code: ErrorCode = 'internal', fatal = false): EarshotError {
    if (EarshotError.isInstance(value)) return value;
    const message = value instanceof Error ? value.message : describeThrown(value);
    return new EarshotError(code, message, { cause: value, fatal });
  }

  /** This error, fatal: the same code and message, for when it ends the session. */
  asFatal(): EarshotError {
    if (this.fatal) return this;
    return new EarshotError(this.code, this.message, {
      cause: this.cause,
      fatal: true,
      details: this.details,
    });
  }

  /** The error as it travels in an `error` message. */
  toWire(): { type: 'error'; code: ErrorCode; message: string; fatal: boolean } {
    return { type: 'error', code: this.code, message: this.message, fatal: this.fatal };
  }
}

/**
 * What was thrown, as text. `String()` itself throws for a value with no usable `toString`
 * (an object without a prototype, or one whose `toString` throws): wrapping must not.
 */
function describeThrown(value: unknown): string {
  try {
    return String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      // A proxy whose every trap throws.
      return 'a thrown value that cannot be shown';
    }
  }
}
