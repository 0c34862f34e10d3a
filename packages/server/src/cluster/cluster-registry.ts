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
 */
export class ClusterRegistry {
  private heartbeat: NodeJS.Timeout | undefined;

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
  start(onBeat: () => void): void {
    const beat = async () => {
      try {
        await this.bus.redis
          .multi()
          .set(this.nodeKey(this.bus.node), '1', 'EX', this.heartbeatSeconds * 3)
          .sadd(this.bus.channel('nodes'), this.bus.node)
          .exec();
        onBeat();
      } catch (error) {
        this.bus.degraded(error);
      }
    };
    void beat();
    this.heartbeat = setInterval(beat, this.heartbeatSeconds * 1000);
    this.heartbeat.unref();
  }

  /** Records that this node runs `sessionIds`. */
  async claim(...sessionIds: string[]): Promise<void> {
    if (sessionIds.length === 0) return;
    await this.bus.redis.hset(
      this.sessionsKey,
      Object.fromEntries(sessionIds.map((id) => [id, this.bus.node])),
    );
  }

  /** Forgets `sessionId`, if this node is still its owner. */
  async release(sessionId: string): Promise<void> {
    await this.bus.redis.eval(RELEASE_IF_OWNER, 1, this.sessionsKey, sessionId, this.bus.node);
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
    clearInterval(this.heartbeat);
    await this.bus.redis
      .multi()
      .del(this.nodeKey(this.bus.node))
      .srem(this.bus.channel('nodes'), this.bus.node)
      .exec()
      .catch(() => {});
  }
}
