import { EarshotError, type Logger, type ServerMessageInput } from '@earshot/protocol';
import type {
  BroadcastTarget,
  LiveSession,
  SessionControl,
  SessionObserver,
} from '../control/session-control.js';
import type { ServerEvents } from '../server-events.js';
import type { HandoverState } from '../session/session-handover.js';
import type { SessionRegistry } from '../session/session-registry.js';
import { ClusterRegistry } from './cluster-registry.js';
import { RedisBus } from './redis-bus.js';

/** The `cluster` option of the server: several nodes sharing one Redis. */
export interface ClusterOptions {
  /** `redis://host:port` of the Redis the nodes share. */
  readonly redisUrl: string;
  /** Prefix of every key and channel, so clusters can share a Redis. Default `earshot:`. */
  readonly keyPrefix?: string;
  /** Seconds between heartbeats; a node silent for three is taken as gone. Default 5. */
  readonly heartbeatSeconds?: number;
  /** How long a request to another node may take, in ms. Default 5000. */
  readonly requestTimeoutMs?: number;
  /**
   * How long one Redis command may take, in ms, before it fails: a frozen Redis, or one
   * behind a partition that drops packets, must not hold REST calls and heartbeats. Default 2000.
   */
  readonly commandTimeoutMs?: number;
}

// An observer on another node renews its lease this often; the owner stops publishing a
// session's messages when the lease runs out (the observer went away without saying so).
const OBSERVE_LEASE_MS = 30_000;
// A handover waits for the old node's provider to flush its last finals.
const HANDOVER_TIMEOUT_MS = 30_000;
// So does an end: the session answers once its last finals are stored and sent, which takes
// up to its `stopTimeoutSeconds` (30 s by default) when its provider is behind.
const END_TIMEOUT_MS = 35_000;

/**
 * {@link SessionControl} across nodes that share a Redis: the session registry, the admin's
 * list across all nodes, `end` and `broadcast` carried out where the session runs, observers
 * on any node, and the handover that lets a client resume its session on another node.
 *
 * While Redis is unreachable (stopped, frozen, partitioned) live sessions go on untouched and
 * each node answers for its own sessions alone (and logs it once): lists and broadcasts to a
 * user or to all reach this node's sessions only. What needs another node and cannot be
 * answered here (`getLive`, `end`, `broadcast` or `observe` of a session this node does not run,
 * a resume of one) rejects with `cluster_unavailable` (HTTP 503: retry), never with a wrong
 * "not found", and never hangs (each Redis command has `commandTimeoutMs`). When Redis is back,
 * even restarted empty, every node announces itself and claims its live sessions again at once.
 */
export class ClusterSessionControl implements SessionControl {
  private readonly leases = new Map<string, number>();
  private stopWatching: (() => void) | undefined;
  private stopAnnouncing: (() => void) | undefined;

  private constructor(
    private readonly local: SessionControl,
    private readonly sessions: SessionRegistry,
    private readonly bus: RedisBus,
    private readonly registry: ClusterRegistry,
    private readonly events: ServerEvents,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  get node(): string {
    return this.local.node;
  }

  /** Joins the cluster: opens the bus, announces this node and its sessions, answers requests. */
  static async join(
    options: ClusterOptions,
    local: SessionControl,
    sessions: SessionRegistry,
    events: ServerEvents,
    logger: Logger,
  ): Promise<ClusterSessionControl> {
    const bus = await RedisBus.open(
      options.redisUrl,
      local.node,
      options.keyPrefix ?? 'earshot:',
      logger,
      { commandTimeoutMs: options.commandTimeoutMs ?? 2000 },
    );
    const registry = new ClusterRegistry(bus, options.heartbeatSeconds ?? 5);
    const control = new ClusterSessionControl(
      local,
      sessions,
      bus,
      registry,
      events,
      options.requestTimeoutMs ?? 5000,
      logger,
    );
    control.answerRequests();
    control.followSessions();
    // Each beat claims this node's sessions again, and a beat runs as soon as Redis is back:
    // after an outage (or a restart that lost every key) the registry is whole again at once.
    registry.start(() => registry.claim(...sessions.list().map((s) => s.id)));
    control.stopAnnouncing = bus.onAvailable(() => void registry.beat());
    return control;
  }

  async listLive(filter: { readonly userId?: string } = {}): Promise<LiveSession[]> {
    const lists = await this.everyNode(
      () => this.local.listLive(filter),
      (node) => this.bus.request<LiveSession[]>(node, 'list', filter, this.timeoutMs),
    );
    return lists.flat();
  }

  async getLive(id: string): Promise<LiveSession | undefined> {
    return this.atOwner(
      id,
      () => this.local.getLive(id),
      (node) => this.bus.request<LiveSession | null>(node, 'get', { id }, this.timeoutMs),
    );
  }

  async end(id: string): Promise<LiveSession | undefined> {
    return this.atOwner(
      id,
      () => this.local.end(id),
      (node) =>
        this.bus.request<LiveSession | null>(
          node,
          'end',
          { id },
          Math.max(this.timeoutMs, END_TIMEOUT_MS),
        ),
    );
  }

  async broadcast(target: BroadcastTarget, payload: unknown): Promise<number> {
    if ('sessionId' in target) {
      return (
        (await this.atOwner(
          target.sessionId,
          () => this.local.broadcast(target, payload),
          (node) =>
            this.bus.request<number>(node, 'broadcast', { target, payload }, this.timeoutMs),
        )) ?? 0
      );
    }
    const counts = await this.everyNode(
      () => this.local.broadcast(target, payload),
      (node) => this.bus.request<number>(node, 'broadcast', { target, payload }, this.timeoutMs),
    );
    return counts.reduce((sum, n) => sum + n, 0);
  }

  async observe(id: string, observer: SessionObserver): Promise<() => void> {
    if (this.sessions.get(id)) return this.local.observe(id, observer);
    const owner = await this.ownerOf(id);
    if (!owner) return this.local.observe(id, observer);
    const stopListening = await this.bus.listen(this.bus.channel('observe', id), (raw) => {
      observer(JSON.parse(raw) as ServerMessageInput);
    });
    const lease = () =>
      this.bus
        .request(owner, 'observe', { id, leaseMs: OBSERVE_LEASE_MS }, this.timeoutMs)
        .catch((error: unknown) => this.bus.degraded(error));
    await lease();
    const renew = setInterval(lease, OBSERVE_LEASE_MS / 3);
    renew.unref();
    return () => {
      clearInterval(renew);
      void stopListening();
    };
  }

  /**
   * Takes over a session another node runs, for a client that resumed here: that node
   * flushes and hands over its state. Resolves `undefined` when no live node runs it or it
   * cannot be handed over; rejects with `cluster_unavailable` when Redis or that node cannot
   * be reached now (the client should try again).
   */
  async takeOver(id: string): Promise<HandoverState | undefined> {
    const owner = await this.ownerOf(id);
    if (!owner || owner === this.node) return undefined;
    try {
      const state = await this.bus.request<HandoverState | null>(
        owner,
        'handover',
        { id },
        HANDOVER_TIMEOUT_MS,
      );
      return state ?? undefined;
    } catch (error) {
      this.logger.warn({ sessionId: id, owner, err: error }, 'handover failed');
      if (EarshotError.isInstance(error) && error.code === 'cluster_unavailable') throw error;
      return undefined;
    }
  }

  /** Leaves the cluster: stops answering, releases this node's sessions, closes the bus. */
  async leave(): Promise<void> {
    this.stopWatching?.();
    this.stopAnnouncing?.();
    await Promise.all(this.sessions.list().map((s) => this.registry.release(s.id).catch(() => {})));
    await this.registry.stop();
    await this.bus.close();
  }

  /** Runs `here` for this node and `there` for every other live node; a node that fails counts as empty. */
  private async everyNode<T>(
    here: () => Promise<T>,
    there: (node: string) => Promise<T>,
  ): Promise<T[]> {
    let nodes: string[];
    try {
      nodes = (await this.registry.liveNodes()).filter((n) => n !== this.node);
    } catch (error) {
      this.bus.degraded(error);
      nodes = [];
    }
    const settled = await Promise.allSettled([here(), ...nodes.map((n) => there(n))]);
    return settled.flatMap((result, i) => {
      if (result.status === 'fulfilled') return [result.value];
      if (i === 0) throw result.reason;
      this.logger.warn({ node: nodes[i - 1], err: result.reason }, 'cluster node did not answer');
      return [];
    });
  }

  /** Runs `here` if this node runs session `id`, else `there` on the node that does. */
  private async atOwner<T>(
    id: string,
    here: () => Promise<T | undefined>,
    there: (node: string) => Promise<T | null>,
  ): Promise<T | undefined> {
    if (this.sessions.get(id)) return here();
    const owner = await this.ownerOf(id);
    if (!owner || owner === this.node) return here();
    return (await there(owner)) ?? undefined;
  }

  /** The node that runs `id`; `cluster_unavailable` when the registry cannot be read. */
  private async ownerOf(id: string): Promise<string | undefined> {
    try {
      return await this.registry.owner(id);
    } catch (error) {
      throw this.bus.unavailable(error);
    }
  }

  private answerRequests(): void {
    const { bus, local } = this;
    bus.handle('list', (body) => local.listLive(body as { userId?: string }));
    bus.handle('get', async (body) => (await local.getLive((body as { id: string }).id)) ?? null);
    bus.handle('end', async (body) => (await local.end((body as { id: string }).id)) ?? null);
    bus.handle('broadcast', (body) => {
      const { target, payload } = body as { target: BroadcastTarget; payload: unknown };
      return local.broadcast(target, payload);
    });
    bus.handle('observe', async (body) => {
      const { id, leaseMs } = body as { id: string; leaseMs: number };
      this.leases.set(id, Date.now() + leaseMs);
      return true;
    });
    bus.handle('handover', async (body) => {
      const session = this.sessions.get((body as { id: string }).id);
      return (await session?.handOver()) ?? null;
    });
  }

  /** Keeps the registry in step with this node's sessions, and publishes observed ones. */
  private followSessions(): void {
    const unwatch = this.sessions.watch({
      added: (session) => {
        this.registry.claim(session.id).catch((error: unknown) => this.bus.degraded(error));
      },
      removed: (session) => {
        this.leases.delete(session.id);
        this.registry.release(session.id).catch((error: unknown) => this.bus.degraded(error));
      },
    });
    const publish = (event: { sessionId: string; message: ServerMessageInput }) => {
      const until = this.leases.get(event.sessionId);
      if (until === undefined) return;
      if (until < Date.now()) {
        this.leases.delete(event.sessionId);
        return;
      }
      void this.bus.publish(this.bus.channel('observe', event.sessionId), event.message);
    };
    this.events.on('session_message', publish);
    this.stopWatching = () => {
      unwatch();
      this.events.off('session_message', publish);
    };
  }
}
