import { EarshotError } from '@earshot/protocol';

/**
 * Loads a vendor SDK that is an optional peer dependency, so that only apps using that
 * provider install it. A missing package becomes `provider_unavailable` naming the install
 * command, instead of a module-not-found crash.
 *
 * @example
 * ```ts
 * const { DeepgramClient } = await loadOptionalSdk('@deepgram/sdk', () => import('@deepgram/sdk'));
 * ```
 */
export async function loadOptionalSdk<T>(packageName: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (cause) {
    const missing =
      cause instanceof Error &&
      ((cause as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' ||
        (cause as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND');
    throw new EarshotError(
      'provider_unavailable',
      missing
        ? `the ${packageName} package is not installed: npm install ${packageName}`
        : `the ${packageName} package failed to load: ${String(cause)}`,
      { cause, fatal: true, details: { install: `npm install ${packageName}` } },
    );
  }
}
