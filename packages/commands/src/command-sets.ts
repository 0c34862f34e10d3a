import {
  type CommandDefinition,
  type CommandDetector,
  type CommandSet,
  createCommandDetector,
} from './command-detector.js';
import { CommandGrammarError } from './command-grammar-error.js';
import type { LexiconEntry } from './slot-types.js';

/** How a tenant's (a user's, an organization's) commands differ from the defaults. */
export interface CommandSetOverrides {
  /** Commands only this tenant has. */
  readonly add?: readonly CommandDefinition[];
  /** Default commands this tenant says differently (same name, new patterns). */
  readonly replace?: readonly CommandDefinition[];
  /** Default commands this tenant does not have, by name. */
  readonly disable?: readonly string[];
  /** Wake words instead of the defaults' (e.g. the assistant's name in this clinic). */
  readonly wakeWords?: readonly string[];
  /** More lexicon entries (merged into the defaults' lexicons of the same name). */
  readonly lexicons?: Readonly<Record<string, readonly LexiconEntry[]>>;
}

/** The defaults with a tenant's overrides applied. Unknown names to replace or disable fail. */
export function extendCommandSet(base: CommandSet, overrides: CommandSetOverrides): CommandSet {
  const names = new Set(base.commands.map((c) => c.name));
  for (const name of [
    ...(overrides.disable ?? []),
    ...(overrides.replace ?? []).map((c) => c.name),
  ]) {
    if (!names.has(name)) {
      throw new CommandGrammarError(
        `override names command "${name}", which the defaults do not have`,
      );
    }
  }
  const disabled = new Set(overrides.disable ?? []);
  const replaced = new Map((overrides.replace ?? []).map((c) => [c.name, c]));
  const lexicons: Record<string, readonly LexiconEntry[]> = { ...base.lexicons };
  for (const [name, entries] of Object.entries(overrides.lexicons ?? {})) {
    lexicons[name] = [...new Set([...(lexicons[name] ?? []), ...entries])];
  }
  return {
    ...base,
    wakeWords: overrides.wakeWords ?? base.wakeWords,
    lexicons,
    commands: [
      ...base.commands.filter((c) => !disabled.has(c.name)).map((c) => replaced.get(c.name) ?? c),
      ...(overrides.add ?? []),
    ],
  };
}

/** Options of {@link createCommandResolver}. */
export interface CommandResolverOptions<M> {
  /** The commands every tenant has unless overridden. */
  readonly defaults: CommandSet;
  /** The tenant of a session (e.g. its organization id), or `undefined` for the defaults. */
  readonly tenantOf: (metadata: M) => string | undefined;
  /**
   * A tenant's overrides; `null` turns commands off for it; `undefined` keeps the defaults.
   * Called once per tenant: the compiled set is cached.
   */
  readonly overridesOf: (tenant: string) => CommandSetOverrides | null | undefined;
}

/**
 * Picks each session's command detector from its metadata (user, organization): the defaults,
 * a tenant's variant of them, or none. Each variant compiles once, on first use.
 *
 * @example
 * ```ts
 * const resolve = createCommandResolver({
 *   defaults: clinicalCommands(),
 *   tenantOf: (metadata) => metadata.orgId as string | undefined,
 *   overridesOf: (org) => (org === 'dental' ? { disable: ['order_lab'] } : undefined),
 * });
 * createEarshotServer({ provider, commands: { resolve } });
 * ```
 */
export function createCommandResolver<M>(
  options: CommandResolverOptions<M>,
): (metadata: M) => CommandDetector | undefined {
  const defaults = createCommandDetector(options.defaults);
  const cache = new Map<string, CommandDetector | undefined>();
  return (metadata) => {
    const tenant = options.tenantOf(metadata);
    if (tenant === undefined) return defaults;
    if (!cache.has(tenant)) {
      const overrides = options.overridesOf(tenant);
      cache.set(
        tenant,
        overrides === null
          ? undefined
          : overrides === undefined
            ? defaults
            : createCommandDetector(extendCommandSet(options.defaults, overrides)),
      );
    }
    return cache.get(tenant);
  };
}
