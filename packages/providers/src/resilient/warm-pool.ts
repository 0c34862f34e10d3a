import { type Logger, silentLogger } from '@earshot/protocol';
import type { SttProvider, SttStream, SttStreamOptions } from '../stt-provider.js';

/** Options of a provider's warm pool. */
export interface WarmPoolOptions {
  /** Upstreams kept open ahead of sessions. */
  readonly size: number;
  /** The stream options sessions will ask for; only an exact match takes a warm upstream. */
  readonly options: SttStreamOptions;
  /** Recycle an unused upstream after this long, seconds. Default 60. */
  readonly maxIdleSeconds?: number;
}

interface Warm {
  readonly stream: SttStream;
  readonly openedAt: number;
  lastKeepAlive: number;
}

const CHECK_MS = 1000;

/**
 * Upstreams opened before anyone asks, so a session's `ready` does not wait for the vendor's
 * handshake. Idle ones are kept alive with the provider's keepalive message, recycled before
 * the provider's idle timeout when it has none, and replaced when they die.
 */
export class WarmPool {
  private readonly pool: Warm[] = [];
  private opening = 0;
  private closed = false;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly key: string;
  private failures = 0;
  private retryAt = 0;

  constructor(
    private readonly provider: SttProvider,
    private readonly settings: WarmPoolOptions,
    private readonly logger: Logger = silentLogger,
  ) {
    this.key = optionsKey(settings.options);
    this.timer = setInterval(() => this.maintain(), CHECK_MS);
    this.timer.unref?.();
    this.fill();
  }

  /** Upstreams ready now. */
  get ready(): number {
    return this.pool.length;
  }

  /** A warm upstream for `options`, if one matches; the pool refills behind it. */
  take(options: SttStreamOptions): SttStream | undefined {
    if (this.closed || optionsKey(options) !== this.key) return undefined;
    const warm = this.pool.shift();
    this.fill();
    if (warm === undefined) return undefined;
    warm.stream.removeAllListeners();
    return warm.stream;
  }

  /** Resolves once the pool holds `size` upstreams (or gave up trying for now). */
  async whenFull(timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.closed && this.pool.length < this.settings.size && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Aborts every pooled upstream and stops refilling. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const warm of this.pool.splice(0)) warm.stream.abort('warm pool closed');
  }

  private fill(): void {
    if (this.closed || Date.now() < this.retryAt) return;
    while (this.pool.length + this.opening < this.settings.size) {
      this.opening++;
      this.provider.open(this.settings.options).then(
        (stream) => {
          this.opening--;
          this.failures = 0;
          if (this.closed) {
            stream.abort('warm pool closed');
            return;
          }
          const now = Date.now();
          const warm: Warm = { stream, openedAt: now, lastKeepAlive: now };
          const drop = () => this.remove(warm);
          stream.on('close', drop);
          stream.on('error', (e) => e.fatal && drop());
          this.pool.push(warm);
        },
        (error: unknown) => {
          this.opening--;
          this.failures++;
          // Back off, so a provider that is down is not hammered by an empty pool.
          this.retryAt = Date.now() + Math.min(30_000, 500 * 2 ** this.failures);
          this.logger.warn({ error: String(error) }, 'warm pool could not open an upstream');
        },
      );
    }
  }

  private remove(warm: Warm): void {
    const index = this.pool.indexOf(warm);
    if (index >= 0) this.pool.splice(index, 1);
    warm.stream.abort('recycled');
  }

  private maintain(): void {
    const now = Date.now();
    const { idleTimeoutSeconds } = this.provider.capabilities;
    const maxIdle = (this.settings.maxIdleSeconds ?? 60) * 1000;
    for (const warm of [...this.pool]) {
      const age = now - warm.openedAt;
      const canKeepAlive = warm.stream.keepAlive !== undefined;
      // Without a keepalive message, an idle upstream is recycled before the vendor drops it.
      const expired =
        age > maxIdle ||
        (!canKeepAlive && idleTimeoutSeconds !== undefined && age > idleTimeoutSeconds * 700);
      if (expired) {
        this.remove(warm);
        continue;
      }
      if (canKeepAlive && idleTimeoutSeconds !== undefined) {
        if (now - warm.lastKeepAlive >= (idleTimeoutSeconds * 1000) / 2) {
          warm.stream.keepAlive?.();
          warm.lastKeepAlive = now;
        }
      }
    }
    this.fill();
  }
}

function optionsKey(o: SttStreamOptions): string {
  return JSON.stringify([
    o.audio.encoding,
    o.audio.sampleRate,
    o.audio.channels,
    o.language,
    o.interimResults,
    [...o.keywords].sort(),
    o.diarize,
    o.providerOptions ?? null,
  ]);
}
