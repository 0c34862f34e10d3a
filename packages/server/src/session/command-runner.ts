import {
  type CommandDetector,
  type CommandMatch,
  CommandTracker,
  type TranscriptSpan,
} from '@earshot/commands';
import type { CommandMessage, Logger, Metadata, ServerMessageInput } from '@earshot/protocol';
import type { Store } from '../stores/store.js';
import type { Session } from './session.js';

/** What a command handler gets besides the match. */
export interface CommandContext {
  readonly sessionId: string;
  readonly segmentId: string;
  readonly metadata: Metadata;
  /** The store, to read what the session (or the app) kept, e.g. the transcript so far. */
  readonly store: Store;
  /** The live session: `play` into a call, `broadcast`, `info`. */
  readonly session: Session;
}

/** Voice commands for a server: which commands each session has, and what to do when one is said. */
export interface CommandOptions {
  /** The commands of every session (unless `resolve` answers otherwise). */
  readonly detector?: CommandDetector;
  /**
   * The commands of one session, from its metadata (user, organization): see
   * `createCommandResolver` in `@earshot/commands`. `undefined`: none for this session.
   */
  readonly resolve?: (metadata: Metadata) => CommandDetector | undefined;
  /**
   * Runs a confirmed command, at most once per utterance; may be async. What it resolves is
   * sent in the `executed` phase (and stored); a throw or rejection is the `failed` phase with
   * its message. Either way the session goes on.
   */
  readonly onCommand?: (match: CommandMatch, context: CommandContext) => unknown | Promise<unknown>;
  /** Send `tentative` phases when an interim shows a command (a UI hint). Default true. */
  readonly tentative?: boolean;
  /**
   * Ask providers that boost keywords to favour the commands' vocabulary (wake words, lexicon
   * names), after the client's own keywords. Default true.
   */
  readonly boostRecognition?: boolean;
}

/** Where a session's command messages go. */
export interface CommandOutlet {
  /** Sends a message to the client. */
  send(message: ServerMessageInput): void;
  /** Stores a command event with the session. */
  record(message: CommandMessage): void;
}

/**
 * One session's voice commands: `tentative` from interims (sent, not stored), then for each
 * command in a final, exactly once per utterance: `confirmed`, and `executed` with the
 * handler's result or `failed` with its reason — sent and stored.
 */
export class SessionCommands {
  private readonly tracker: CommandTracker;
  /** Words for the provider to boost: the detector's vocabulary, unless turned off. */
  readonly vocabulary: readonly string[];

  private constructor(
    private readonly options: CommandOptions,
    detector: CommandDetector,
    private readonly outlet: CommandOutlet,
    private readonly logger: Logger,
  ) {
    this.tracker = new CommandTracker(detector);
    this.vocabulary = options.boostRecognition === false ? [] : detector.vocabulary;
  }

  /** The session's commands, or `undefined` when it has none. */
  static for(
    options: CommandOptions | undefined,
    metadata: Metadata,
    outlet: CommandOutlet,
    logger: Logger,
  ): SessionCommands | undefined {
    if (!options) return undefined;
    const detector = options.resolve ? options.resolve(metadata) : options.detector;
    return detector ? new SessionCommands(options, detector, outlet, logger) : undefined;
  }

  /** An interim: the commands it newly shows go out as `tentative`. */
  interim(segmentId: string, text: string): void {
    if (this.options.tentative === false || !text) return;
    for (const match of this.tracker.interim(segmentId, text)) {
      this.outlet.send({ ...this.message(match, segmentId), phase: 'tentative' });
    }
  }

  /** A final: each command it holds is confirmed and run, once. */
  async final(
    segmentId: string,
    text: string,
    span: TranscriptSpan,
    context: Omit<CommandContext, 'segmentId'>,
  ): Promise<void> {
    if (!text) return;
    for (const match of this.tracker.final(segmentId, text, span)) {
      const base = this.message(match, segmentId);
      this.emit({ ...base, phase: 'confirmed' });
      if (!this.options.onCommand) continue;
      try {
        const result = await this.options.onCommand(match, { ...context, segmentId });
        this.emit({ ...base, phase: 'executed', result });
      } catch (error) {
        this.logger.warn(
          { sessionId: context.sessionId, command: match.name, err: error },
          'command handler failed',
        );
        this.emit({
          ...base,
          phase: 'failed',
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }

  private message(match: CommandMatch, segmentId: string) {
    return {
      type: 'command' as const,
      name: match.name,
      segmentId,
      slots: { ...match.slots },
    };
  }

  private emit(message: CommandMessage): void {
    this.outlet.send(message);
    this.outlet.record(message);
  }
}
