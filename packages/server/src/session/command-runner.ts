import type { CommandDetector, CommandMatch } from '@earshot/commands';
import type { Logger, Metadata, ServerMessageInput } from '@earshot/protocol';

/** What a command handler gets besides the match. */
export interface CommandContext {
  readonly sessionId: string;
  readonly segmentId: string;
  readonly metadata: Metadata;
}

/** Voice commands for a server: a detector and, optionally, what to do when one is said. */
export interface CommandOptions {
  readonly detector: CommandDetector;
  /** Runs a confirmed command; its result is sent to the client in the `executed` phase. */
  readonly onCommand?: (match: CommandMatch, context: CommandContext) => unknown | Promise<unknown>;
}

/**
 * Detects commands in a final transcript and reports each one's phases to the client:
 * `confirmed`, then `executed` with the handler's result, or `failed` with its reason. A
 * failing handler never breaks the session.
 */
export async function runCommands(
  options: CommandOptions,
  text: string,
  context: CommandContext,
  send: (message: ServerMessageInput) => void,
  logger: Logger,
): Promise<void> {
  for (const match of options.detector.detect(text)) {
    const base = {
      type: 'command' as const,
      name: match.name,
      segmentId: context.segmentId,
      slots: match.slots,
    };
    send({ ...base, phase: 'confirmed' });
    if (!options.onCommand) continue;
    try {
      const result = await options.onCommand(match, context);
      send({ ...base, phase: 'executed', result });
    } catch (error) {
      logger.warn(
        { sessionId: context.sessionId, command: match.name, err: error },
        'command handler failed',
      );
      send({
        ...base,
        phase: 'failed',
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
