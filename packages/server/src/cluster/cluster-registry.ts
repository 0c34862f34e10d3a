import type { RedisBus } from './redis-bus.js';

// Deletes a session's entry only if this node still owns it: after a handover the new owner
// may have written it already. One script, so it runs in order with this node's other commands.
const RELEASE_IF_OWNER = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`;

/**
 * Which node runs which session, in Redis: a hash of session id → node, and a heartbeat key
 * per node that expires when the node stops renewing it (a crashed node's sessions are then
 * no one's). Every call may reject while Redis is away; callers fall back to this node.
 *
 * Each beat also mends what an outage broke: it removes the entries of sessions that ended
 * while Redis was away (their release failed), then runs `onBeat` (the cluster claims its live
 * sessions again there). Call {@link ClusterRegistry.beat} when Redis is back, so a restarted,
 * empty Redis knows every live session again at once rather than a heartbeat later.
 */
export class ClusterRegistry {
  private heartbeat: NodeJS.Timeout | undefined;
  private onBeat: () => Promise<void> | void = () => {};
  /** The beat running now, if any. */
  private beating: Promise<void> | undefined;
  private beatAgain = false;
  private stopped = false;
  /** Sessions this node ended while Redis was away: their entries go at the next beat. */
  private readonly unreleased = new Set<string>();

  constructor(
    private readonly bus: RedisBus,
    private readonly heartbeatSeconds: number,
  ) {}

  private get sessionsKey(): string {
    return this.bus.channel('sessions');
  }

  private nodeKey(node: string): string {
    return this.bus.channel('node', node);
  }

  /** Starts announcing this node; `onBeat` runs after each successful beat. */
  start(onBeat: () => Promise<void> | void): void {
    this.onBeat = onBeat;
    void this.beat();
    this.heartbeat = setInterval(() => void this.beat(), this.heartbeatSeconds * 1000);
    this.heartbeat.unref();
  }

  /**
   * Announces this node now, releases what an outage left claimed, and runs `onBeat`. Never
   * rejects: a failure is the bus's to log. A call during a beat runs one more after it.
   */
  async beat(): Promise<void> {
    if (this.stopped) return;
    if (this.beating) {
      this.beatAgain = true;
      return this.beating;
    }
    this.beating = (async () => {
      try {
        do {
          this.beatAgain = false;
          await this.announce();
        } while (this.beatAgain && !this.stopped);
      } finally {
        this.beating = undefined;
      }
    })();
    return this.beating;
  }

  private async announce(): Promise<void> {
    try {
      await this.bus.redis
        .multi()
        .set(this.nodeKey(this.bus.node), '1', 'EX', this.heartbeatSeconds * 3)
        .sadd(this.bus.channel('nodes'), this.bus.node)
        .exec();
      this.bus.answered();
      for (const id of [...this.unreleased]) {
        await this.bus.redis.eval(RELEASE_IF_OWNER, 1, this.sessionsKey, id, this.bus.node);
        this.unreleased.delete(id);
      }
      await this.onBeat();
    } catch (error) {
      this.bus.degraded(error);
    }
  }

  /** Records that this node runs `sessionIds`. */
  async claim(...sessionIds: string[]): Promise<void> {
    if (sessionIds.length === 0) return;
    // Running here again (resumed back): an old release must not remove the new claim.
    for (const id of sessionIds) this.unreleased.delete(id);
    await this.bus.redis.hset(
      this.sessionsKey,
      Object.fromEntries(sessionIds.map((id) => [id, this.bus.node])),
    );
  }

  /**
   * Forgets `sessionId`, if this node is still its owner. When Redis cannot be reached it
   * rejects, and the entry is removed at the first beat that reaches it.
   */
  async release(sessionId: string): Promise<void> {
    try {
      await this.bus.redis.eval(RELEASE_IF_OWNER, 1, this.sessionsKey, sessionId, this.bus.node);
    } catch (error) {
      this.unreleased.add(sessionId);
      throw error;
    }
  }

  /** The live node that runs `sessionId`, if any. */
  async owner(sessionId: string): Promise<string | undefined> {
    const node = await this.bus.redis.hget(this.sessionsKey, sessionId);
    if (!node) return undefined;
    return (await this.bus.redis.exists(this.nodeKey(node))) ? node : undefined;
  }

  /** The nodes whose heartbeat is current; forgets the others. */
  async liveNodes(): Promise<string[]> {
    const nodes = await this.bus.redis.smembers(this.bus.channel('nodes'));
    if (nodes.length === 0) return [];
    const beats = await this.bus.redis.mget(nodes.map((n) => this.nodeKey(n)));
    const dead = nodes.filter((_, i) => beats[i] === null);
    if (dead.length > 0) await this.bus.redis.srem(this.bus.channel('nodes'), ...dead);
    return nodes.filter((_, i) => beats[i] !== null);
  }

  /** Stops announcing this node and removes it. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    // A beat still running would announce this node again after it is removed.
    await this.beating;
    await this.bus.redis
      .multi()
      .del(this.nodeKey(this.bus.node))
      .srem(this.bus.channel('nodes'), this.bus.node)
      .exec()
      .catch(() => {});
  }
}
