import { EarshotError } from '@earshot/protocol';

/**
 * A numeric responder option, or its default: checked when the responder is created so a
 * misconfiguration fails at start-up rather than on the first reply.
 *
 * @throws EarshotError `invalid_request` when the value is not a number from `min` to `max`.
 */
export function numberOption(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new EarshotError(
      'invalid_request',
      `${name} must be a number from ${min} to ${max}, not ${v}`,
    );
  }
  return v;
}
