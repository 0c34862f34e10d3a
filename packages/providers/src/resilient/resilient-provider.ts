import { EarshotError, sameAudioFormat } from '@earshot/protocol';
import type {
  ProviderCapabilities,
  SttProvider,
  SttStream,
  SttStreamOptions,
} from '../stt-provider.js';
import { type ResilienceSettings, ResilientStream } from './resilient-stream.js';
import { RetryPolicy } from './retry-policy.js';
import { WarmPool, type WarmPoolOptions } from './warm-pool.js';

/** Options of {@link createResilientProvider}. */
export interface ResilientProviderOptions extends ResilienceSettings {
  /**
   * Providers to fail over to, in order, when the one before is down past its retry budget
   * (or refuses its key). They must accept the primary's input formats.
   */
  readonly fallbacks?: readonly SttProvider[];
  /**
   * Keep this many primary upstreams open ahead of sessions that ask for `options`, so their
   * `ready` does not wait for the vendor's handshake. Off by default (an open upstream may
   * cost money at some vendors).
   */
  readonly warm?: WarmPoolOptions;
}

/** A provider whose streams survive their upstreams; see {@link ResilientStream}. */
export interface ResilientProvider extends SttProvider {
  /** The providers in failover order: the primary first. */
  readonly chain: readonly SttProvider[];
  /** The warm pool, when `warm` was given. */
  readonly warmPool: WarmPool | undefined;
  open(options: SttStreamOptions, signal?: AbortSignal): Promise<ResilientStream>;
}

let streamCounter = 0;

/**
 * Wraps a provider (and optional fallbacks) in Earshot's one resilient layer. The server
 * does this for every provider; use it directly to get the same behaviour without the server.
 *
 * Its capabilities are the primary's, with the formats every fallback also accepts, and no
 * stream limit or idle timeout: the layer rolls over and keeps alive by itself.
 *
 * @example
 * ```ts
 * const provider = createResilientProvider(createDeepgramProvider(), {
 *   fallbacks: [createLocalProvider()],
 *   retry: { budget: 5, refillAfterMs: 30_000 },
 * });
 * const stream = await provider.open(options); // reconnects, replays, rolls over, fails over
 * ```
 */
export function createResilientProvider(
  primary: SttProvider,
  options: ResilientProviderOptions = {},
): ResilientProvider {
  const chain = [primary, ...(options.fallbacks ?? [])];
  const inputFormats = primary.capabilities.inputFormats.filter((format) =>
    chain.every((p) => p.capabilities.inputFormats.some((f) => sameAudioFormat(f, format))),
  );
  if (inputFormats.length === 0) {
    throw new EarshotError(
      'provider_unavailable',
      `${chain.map((p) => p.name).join(', ')} share no input format; a fallback must accept what the primary does`,
      { fatal: true },
    );
  }
  const { maxStreamSeconds: _limit, idleTimeoutSeconds: _idle, ...rest } = primary.capabilities;
  const capabilities: ProviderCapabilities = { ...rest, inputFormats };
  const warmPool = options.warm ? new WarmPool(primary, options.warm, options.logger) : undefined;
  return {
    specificationVersion: 'v1',
    name: primary.name,
    chain,
    capabilities,
    warmPool,
    open(streamOptions, signal) {
      // A retry budget per stream and provider: one session's outage never starves another's.
      const slots = chain.map((provider) => ({
        provider,
        policy: new RetryPolicy(options.retry),
      }));
      const warm = warmPool?.take(streamOptions);
      const id = `s${++streamCounter}`;
      return ResilientStream.open(slots, streamOptions, options, id, signal, warm);
    },
    async close() {
      warmPool?.close();
      await Promise.all(chain.map((p) => p.close?.()));
    },
  };
}

/** Whether `stream` came from the resilient layer (and so has `stats`). */
export function isResilientStream(stream: SttStream): stream is ResilientStream {
  return stream instanceof ResilientStream;
}
