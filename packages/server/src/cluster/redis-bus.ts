import { randomUUID } from 'node:crypto';
import { EarshotError, ERROR_CODES, type ErrorCode, type Logger } from '@earshot/protocol';
import type { Redis } from 'ioredis';

/** Answers one kind of request from another node. */
export type RequestHandler = (body: unknown, from: string) => Promise<unknown>;

interface Envelope {
  readonly id: string;
  readonly from: string;
  readonly kind?: string;
  readonly body?: unknown;
  readonly ok?: boolean;
  readonly error?: string;
  /** The code of a failed request's `EarshotError`, so it stays typed across nodes. */
  readonly code?: string;
}

/** Options of {@link RedisBus.open}. */
export interface RedisBusOptions {
  /** How long one Redis command may take before it fails (`cluster_unavailable`), in ms. */
  readonly commandTimeoutMs: number;
}

interface PendingRequest {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

/**
 * The nodes' line to each other over Redis: commands on one connection, pub/sub on another;
 * requests to one node (`rpc:<node>`) answered on the asker's reply channel. Nothing queues
 * while Redis is away and nothing waits on it for long: a command fails at once when Redis is
 * unreachable, or after `commandTimeoutMs` when it does not answer (frozen, or a partition that
 * drops packets), and a request fails with `cluster_unavailable`; callers fall back to what
 * this node knows alone, and the bus says so in the log once per outage. When Redis is back
 * (restarted, perhaps empty) the bus subscribes again and tells {@link RedisBus.onAvailable}
 * listeners, so the registry can be announced again at once.
 */
export class RedisBus {
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly pending = new Map<string, PendingRequest>();
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  private readonly availableListeners = new Set<() => void>();
  private warned = false;
  private closed = false;

  private constructor(
    readonly node: string,
    readonly prefix: string,
    /** Commands: registry reads and writes, publishing. */
    readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly logger: Logger,
  ) {
    subscriber.on('message', (channel: string, message: string) => this.dispatch(channel, message));
    for (const connection of [redis, subscriber]) {
      connection.on('error', (error: Error) => this.degraded(error));
    }
    redis.on('ready', () => {
      this.answered();
      for (const listener of this.availableListeners) listener();
    });
    // ioredis renews the subscriptions it had made; one that failed while Redis was away (a
    // node started during an outage) would never be made. Asking again is harmless.
    subscriber.on('ready', () => {
      if (this.closed) return;
      const channels = [...this.ownChannels(), ...this.listeners.keys()];
      this.subscriber.subscribe(...channels).catch((error: unknown) => this.degraded(error));
    });
  }

  /** Connects to Redis at `url` (`ioredis` must be installed); connecting goes on in the background. */
  static async open(
    url: string,
    node: string,
    prefix: string,
    logger: Logger,
    { commandTimeoutMs }: RedisBusOptions,
  ): Promise<RedisBus> {
    let RedisClass: typeof Redis;
    try {
      const loaded = (await import('ioredis')) as unknown as {
        Redis?: typeof Redis;
        default?: typeof Redis | { Redis: typeof Redis };
      };
      const fallback = loaded.default;
      RedisClass =
        loaded.Redis ??
        (typeof fallback === 'function' ? fallback : (fallback as { Redis: typeof Redis }).Redis);
    } catch (error) {
      throw new EarshotError(
        'invalid_request',
        'the cluster bus needs "ioredis": npm install ioredis',
        {
          cause: error,
        },
      );
    }
    const options = {
      // Fail at once while Redis is away instead of queueing: callers fall back to one node.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // A Redis that takes the connection but never answers would hold every caller forever.
      commandTimeout: commandTimeoutMs,
      retryStrategy: (attempt: number) => Math.min(100 * attempt, 2000),
    };
    const bus = new RedisBus(
      node,
      prefix,
      new RedisClass(url, options),
      new RedisClass(url, { ...options, enableOfflineQueue: true }),
      logger,
    );
    // The subscriber queues its SUBSCRIBEs until connected and renews them after a reconnect.
    await bus.subscriber
      .subscribe(...bus.ownChannels())
      .catch((error: unknown) => bus.degraded(error));
    return bus;
  }

  /**
   * Calls `listener` each time Redis answers again after being unreachable (and when it first
   * does), until the returned function is called.
   */
  onAvailable(listener: () => void): () => void {
    this.availableListeners.add(listener);
    return () => this.availableListeners.delete(listener);
  }

  /** Whether Redis answers now. */
  get available(): boolean {
    return this.redis.status === 'ready';
  }

  /** The name of a channel or key of this cluster. */
  channel(...parts: string[]): string {
    return `${this.prefix}${parts.join(':')}`;
  }

  /** Answers requests of `kind` from other nodes. */
  handle(kind: string, handler: RequestHandler): void {
    this.handlers.set(kind, handler);
  }

  /**
   * Asks `node` to do `kind` and resolves its answer. Rejects with `cluster_unavailable` when
   * Redis cannot carry the request, no node listens as `node`, or no answer comes within
   * `timeoutMs`; with the node's own error (and code) when it failed to do it.
   */
  async request<T>(node: string, kind: string, body: unknown, timeoutMs: number): Promise<T> {
    const id = randomUUID();
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new EarshotError(
            'cluster_unavailable',
            `node ${node} did not answer ${kind} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
    const envelope: Envelope = { id, from: this.node, kind, body };
    try {
      const receivers = await this.redis.publish(
        this.channel('rpc', node),
        JSON.stringify(envelope),
      );
      // Gone, or not subscribed again yet after Redis came back: either way, not now.
      if (receivers === 0) {
        throw new EarshotError('cluster_unavailable', `node ${node} is not on the cluster bus`);
      }
    } catch (error) {
      const entry = this.pending.get(id);
      if (entry) {
        clearTimeout(entry.timer);
        this.pending.delete(id);
        entry.reject(EarshotError.isInstance(error) ? error : this.unavailable(error));
      }
    }
    return (await answer) as T;
  }

  /** `error` (from Redis or ioredis) as the typed error callers see: `cluster_unavailable`. */
  unavailable(error: unknown): EarshotError {
    this.degraded(error);
    const reason = error instanceof Error ? error.message : String(error);
    return new EarshotError('cluster_unavailable', `Redis (the cluster bus) failed: ${reason}`, {
      cause: error,
    });
  }

  /** Publishes `message` on a channel; resolves how many nodes received it (0 when Redis is away). */
  async publish(channel: string, message: unknown): Promise<number> {
    try {
      return await this.redis.publish(channel, JSON.stringify(message));
    } catch (error) {
      this.degraded(error);
      return 0;
    }
  }

  /** Calls `listener` with every message on `channel` until the returned function is called. */
  async listen(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      await this.subscriber.subscribe(channel);
    }
    set.add(listener);
    return async () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(channel) === set) {
        this.listeners.delete(channel);
        await this.subscriber.unsubscribe(channel).catch(() => {});
      }
    };
  }

  /**
   * Notes that Redis answered: ends the outage the log spoke of, if any. Redis that froze and
   * thawed never reconnects, so the registry's heartbeat says so too.
   */
  answered(): void {
    if (this.warned && !this.closed) {
      this.logger.info({ node: this.node }, 'cluster bus: Redis is back');
    }
    this.warned = false;
  }

  /** Logs, once per outage, that the cluster runs on what this node knows alone. */
  degraded(error: unknown): void {
    if (this.warned || this.closed) return;
    this.warned = true;
    this.logger.warn(
      { node: this.node, err: error },
      'cluster bus: Redis unreachable; this node serves its own sessions only until it is back',
    );
  }

  /** This node's request and reply channels. */
  private ownChannels(): [string, string] {
    return [this.channel('rpc', this.node), this.channel('reply', this.node)];
  }

  /** Closes both connections; pending requests fail. */
  async close(): Promise<void> {
    this.closed = true;
    this.availableListeners.clear();
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(new EarshotError('session_ended', 'the cluster bus closed'));
      this.pending.delete(id);
    }
    this.redis.disconnect();
    this.subscriber.disconnect();
  }

  private dispatch(channel: string, raw: string): void {
    if (channel === this.channel('rpc', this.node)) {
      void this.answer(raw);
      return;
    }
    if (channel === this.channel('reply', this.node)) {
      const reply = parse(raw);
      const entry = reply && this.pending.get(reply.id);
      if (!reply || !entry) return;
      clearTimeout(entry.timer);
      this.pending.delete(reply.id);
      if (reply.ok) entry.resolve(reply.body);
      else entry.reject(new EarshotError(codeOf(reply.code), reply.error ?? 'request failed'));
      return;
    }
    for (const listener of this.listeners.get(channel) ?? []) listener(raw);
  }

  private async answer(raw: string): Promise<void> {
    const request = parse(raw);
    if (!request?.kind) return;
    const handler = this.handlers.get(request.kind);
    let reply: Envelope;
    try {
      if (!handler) throw new Error(`no handler for ${request.kind}`);
      const body = await handler(request.body, request.from);
      reply = { id: request.id, from: this.node, ok: true, body: body ?? null };
    } catch (error) {
      reply = EarshotError.isInstance(error)
        ? { id: request.id, from: this.node, ok: false, error: error.message, code: error.code }
        : { id: request.id, from: this.node, ok: false, error: String(error) };
    }
    await this.publish(this.channel('reply', request.from), reply);
  }
}

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** A code another node sent, if it is one this node knows; else `internal`. */
function codeOf(code: string | undefined): ErrorCode {
  return code !== undefined && KNOWN_CODES.has(code) ? (code as ErrorCode) : 'internal';
}

function parse(raw: string): Envelope | undefined {
  try {
    const value = JSON.parse(raw) as Envelope;
    return typeof value?.id === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
