import { randomUUID } from 'node:crypto';
import { EarshotError, type Logger } from '@earshot/protocol';
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
}

interface PendingRequest {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

/**
 * The nodes' line to each other over Redis: commands on one connection, pub/sub on another;
 * requests to one node (`rpc:<node>`) answered on the asker's reply channel. Nothing queues
 * while Redis is away: a call fails at once (`unavailable`), so callers fall back to what this
 * node knows alone, and the bus says so in the log once per outage.
 */
export class RedisBus {
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly pending = new Map<string, PendingRequest>();
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
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
      if (this.warned) this.logger.info({ node }, 'cluster bus: Redis is back');
      this.warned = false;
    });
  }

  /** Connects to Redis at `url` (`ioredis` must be installed); connecting goes on in the background. */
  static async open(url: string, node: string, prefix: string, logger: Logger): Promise<RedisBus> {
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
      .subscribe(bus.channel('rpc', node), bus.channel('reply', node))
      .catch((error: unknown) => bus.degraded(error));
    return bus;
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
   * Asks `node` to do `kind` and resolves its answer. Rejects when Redis or the node does not
   * answer within `timeoutMs`.
   */
  async request<T>(node: string, kind: string, body: unknown, timeoutMs: number): Promise<T> {
    const id = randomUUID();
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new EarshotError('timeout', `node ${node} did not answer ${kind} in time`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
    const envelope: Envelope = { id, from: this.node, kind, body };
    try {
      const receivers = await this.redis.publish(
        this.channel('rpc', node),
        JSON.stringify(envelope),
      );
      if (receivers === 0) throw new EarshotError('session_not_found', `node ${node} is gone`);
    } catch (error) {
      const entry = this.pending.get(id);
      if (entry) {
        clearTimeout(entry.timer);
        this.pending.delete(id);
        entry.reject(error);
      }
    }
    return (await answer) as T;
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

  /** Logs, once per outage, that the cluster runs on what this node knows alone. */
  degraded(error: unknown): void {
    if (this.warned || this.closed) return;
    this.warned = true;
    this.logger.warn(
      { node: this.node, err: error },
      'cluster bus: Redis unreachable; this node serves its own sessions only until it is back',
    );
  }

  /** Closes both connections; pending requests fail. */
  async close(): Promise<void> {
    this.closed = true;
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
      else entry.reject(new EarshotError('internal', reply.error ?? 'request failed'));
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
      reply = { id: request.id, from: this.node, ok: false, error: String(error) };
    }
    await this.publish(this.channel('reply', request.from), reply);
  }
}

function parse(raw: string): Envelope | undefined {
  try {
    const value = JSON.parse(raw) as Envelope;
    return typeof value?.id === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
