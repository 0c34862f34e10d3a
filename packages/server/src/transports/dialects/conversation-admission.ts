import type { IncomingMessage } from 'node:http';
import { EarshotError, type Metadata, MetadataSchema } from '@earshot/protocol';
import type { DialectHost } from './dialect.js';

/**
 * The app's word on a conversation id that Earshot did not mint: its metadata (stored with the
 * session, and what per-tenant voice commands are chosen by), or `undefined` for a
 * conversation it does not know. `req` is the upgrade request, for the app's own cookies or
 * headers. A throw or rejection refuses the connection with HTTP 503.
 */
export type ConversationResolver = (
  conversationId: string,
  req: IncomingMessage,
) => Metadata | undefined | Promise<Metadata | undefined>;

/** What a conversation's connection opens: its session's id (when not a fresh one) and metadata. */
export interface ConversationAdmission {
  readonly conversationId: string;
  /** The session id: the conversation's own when it was minted over REST; else a new one. */
  readonly sessionId: string | undefined;
  /** Minted over REST (`POST /v1/sessions`): the session's record exists. */
  readonly preCreated: boolean;
  /** The session's metadata, `conversationId` included. */
  readonly metadata: Metadata;
}

// Well-formed ids are enough when the app vouches for nothing.
const acceptAny: ConversationResolver = () => ({});

/**
 * Decides which session a `?conversationId=` connection is. An id minted by `POST
 * /v1/sessions` and not yet connected is that session, with its metadata; any other id is a new
 * session of that conversation if `resolve` vouches for it (a conversation may be recorded in
 * several sessions, after a reconnect for instance). Refusals reject with an
 * {@link EarshotError} whose code gives the HTTP status.
 */
export class ConversationGate {
  constructor(
    private readonly host: DialectHost,
    private readonly resolve: ConversationResolver = acceptAny,
  ) {}

  /**
   * Admits a connection for `conversationId` (already checked against `DIALECT_ID`).
   */
  async admit(conversationId: string, req: IncomingMessage): Promise<ConversationAdmission> {
    let claim: Awaited<ReturnType<DialectHost['claimSessionId']>>;
    try {
      // A second connection for a minted id, while the first opens it, finds it `taken`.
      claim = await this.host.claimSessionId(conversationId);
    } catch (error) {
      this.host.logger.error({ err: error, conversationId }, 'conversation: claim failed');
      throw new EarshotError('store_error', 'could not look up the conversation', {
        cause: error,
      });
    }
    if (typeof claim === 'object') {
      return {
        conversationId,
        sessionId: conversationId,
        preCreated: true,
        metadata: { ...claim.minted, conversationId },
      };
    }
    const metadata = await this.vouch(conversationId, req);
    return { conversationId, sessionId: undefined, preCreated: false, metadata };
  }

  /** The app's metadata of a conversation Earshot did not mint, with its id. */
  private async vouch(conversationId: string, req: IncomingMessage): Promise<Metadata> {
    let given: Metadata | undefined | null;
    try {
      given = await this.resolve(conversationId, req);
    } catch (error) {
      this.host.logger.error({ err: error, conversationId }, 'conversation: resolver failed');
      throw new EarshotError('store_error', 'could not look up the conversation', {
        cause: error,
      });
    }
    // `null` too: an app written in JavaScript may well answer "none" that way.
    if (given === undefined || given === null) {
      throw new EarshotError('session_not_found', `unknown conversation "${conversationId}"`);
    }
    const parsed = MetadataSchema.safeParse(given);
    if (!parsed.success) {
      // The app's bug, not an outage: nothing a retry would cure.
      this.host.logger.error(
        { err: parsed.error, conversationId },
        'conversation: resolveConversation answered metadata that is not flat key/values',
      );
      throw new EarshotError('internal', 'could not admit the conversation');
    }
    return { ...parsed.data, conversationId };
  }
}
