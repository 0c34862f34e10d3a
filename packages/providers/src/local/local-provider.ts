import { randomUUID } from 'node:crypto';
import { EarshotError, type Logger, PCM16_16K_MONO, silentLogger } from '@earshot/protocol';
import { assertAcceptedFormat } from '../shared/accepted-format.js';
import type {
  ProviderCapabilities,
  SttProvider,
  SttStream,
  SttStreamOptions,
} from '../stt-provider.js';
import { LocalSttStream } from './local-stream.js';
import {
  loadPocketSphinx,
  type PocketSphinxBinding,
  PocketSphinxDecoder,
} from './pocketsphinx-binding.js';
import {
  DEFAULT_POCKETSPHINX_LIBRARY,
  DEFAULT_POCKETSPHINX_MODEL_DIR,
  DEFAULT_SPHINXBASE_LIBRARY,
  missingModelFiles,
  type PocketSphinxModelPaths,
  pocketSphinxModelPaths,
  pocketSphinxUnavailable,
} from './pocketsphinx-model.js';

/** Settings of {@link createLocalProvider}. Every field has a working default on Debian. */
export interface LocalProviderSettings {
  /**
   * Directory of the US English model, laid out as Debian's `pocketsphinx-en-us`.
   * Defaults to `/usr/share/pocketsphinx/model/en-us`.
   */
  readonly modelDir?: string;
  /** `libpocketsphinx.so.3` (found by the dynamic loader) or a full path to it. */
  readonly libraryPath?: string;
  /** `libsphinxbase.so.3` (found by the dynamic loader) or a full path to it. */
  readonly sphinxbaseLibraryPath?: string;
  /**
   * Streams that may run at once; `open()` beyond it rejects with `capacity`. Each costs a
   * decoder (~110 MB) and ~0.2 CPU-seconds per second of audio. Defaults to 2.
   */
  readonly maxConcurrentStreams?: number;
  /**
   * Decoders to keep initialized ahead of demand, so the next `open()` skips `ps_init`
   * (~0.5–1 s). Each stream gets a fresh decoder, so its results match
   * `pocketsphinx_continuous`; never more than `maxConcurrentStreams` decoders live at once
   * (plus, briefly, one being freed). Defaults to 1; 0 disables warming ahead.
   */
  readonly warmDecoders?: number;
  /**
   * How often interims are computed while someone speaks, in blocks of 2048 samples
   * (128 ms). Each look costs a backtrace, so 1 is the liveliest and dearest. Defaults to 2.
   */
  readonly interimIntervalBlocks?: number;
  /** Where the provider logs. Silent by default. */
  readonly logger?: Logger;
}

/** The local provider: an {@link SttProvider} with a pool of warm decoders. */
export interface LocalProvider extends SttProvider {
  readonly name: 'local';
  /**
   * Loads the engine and initializes the warm decoders now, rather than on the first
   * `open()`. Rejects with `provider_unavailable` when the engine is missing.
   */
  warmUp(): Promise<void>;
  /** Frees every idle decoder. Open streams must be closed first; `open()` then rejects. */
  close(): Promise<void>;
}

interface Engine {
  readonly binding: PocketSphinxBinding;
  readonly model: PocketSphinxModelPaths;
}

const DEFAULT_MAX_CONCURRENT_STREAMS = 2;

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) {
    throw new EarshotError('invalid_request', `${name} must be a non-negative integer`);
  }
  return value;
}

/**
 * Creates the offline `local` provider on CMU PocketSphinx (Debian's `pocketsphinx` and
 * `pocketsphinx-en-us`). Nothing native is loaded until the first `open()` or `warmUp()`.
 *
 * @example
 * ```ts
 * import { createLocalProvider } from '@earshot/providers/local';
 *
 * const local = createLocalProvider({ maxConcurrentStreams: 2 });
 * const stream = await local.open({ audio: PCM16_16K_MONO, language: 'en-US',
 *   interimResults: true, keywords: [], diarize: false });
 * stream.on('transcript', (t) => t.isFinal && log.info({ text: t.text }));
 * stream.write(pcm);
 * await stream.end();
 * await local.close();
 * ```
 */
export function createLocalProvider(settings: LocalProviderSettings = {}): LocalProvider {
  const logger = settings.logger ?? silentLogger;
  const maxStreams = Math.max(
    1,
    positiveInteger(
      settings.maxConcurrentStreams,
      DEFAULT_MAX_CONCURRENT_STREAMS,
      'maxConcurrentStreams',
    ),
  );
  const warmTarget = Math.min(
    maxStreams,
    positiveInteger(settings.warmDecoders, 1, 'warmDecoders'),
  );
  const interimIntervalBlocks = Math.max(
    1,
    positiveInteger(settings.interimIntervalBlocks, 2, 'interimIntervalBlocks'),
  );
  const modelPaths = pocketSphinxModelPaths(settings.modelDir ?? DEFAULT_POCKETSPHINX_MODEL_DIR);
  const libraries = {
    pocketsphinx: settings.libraryPath ?? DEFAULT_POCKETSPHINX_LIBRARY,
    sphinxbase: settings.sphinxbaseLibraryPath ?? DEFAULT_SPHINXBASE_LIBRARY,
  };

  const capabilities: ProviderCapabilities = Object.freeze({
    inputFormats: Object.freeze([PCM16_16K_MONO]),
    interimResults: true,
    wordTimings: true,
    diarization: false,
    keywordBoosting: false,
    languages: Object.freeze(['en-US', 'en']),
    maxConcurrentStreams: maxStreams,
  });

  let closed = false;
  /** Slots taken by open streams and by opens in progress. */
  let activeStreams = 0;
  /** Decoders alive: in streams, idle, being initialized or being freed. */
  let liveDecoders = 0;
  const idle: PocketSphinxDecoder[] = [];
  /** A decoder being initialized ahead of demand; an `open()` may claim it. */
  let warming: { promise: Promise<PocketSphinxDecoder>; claimed: boolean } | undefined;
  let enginePromise: Promise<Engine> | undefined;
  let loadedEngine: Engine | undefined;
  let streamCount = 0;
  const background = new Set<Promise<void>>();
  const instanceId = randomUUID().slice(0, 8);

  function loadEngine(): Promise<Engine> {
    enginePromise ??= (async () => {
      const missing = await missingModelFiles(modelPaths);
      if (missing.length > 0) {
        throw pocketSphinxUnavailable(`model files not found: ${missing.join(', ')}`);
      }
      try {
        loadedEngine = { binding: await loadPocketSphinx(libraries), model: modelPaths };
        return loadedEngine;
      } catch (error) {
        throw pocketSphinxUnavailable(
          `the PocketSphinx libraries could not be loaded (${libraries.pocketsphinx}, ${libraries.sphinxbase})`,
          error,
        );
      }
    })();
    // A failure is not cached: the engine may be installed while the process runs.
    enginePromise.catch(() => {
      enginePromise = undefined;
    });
    return enginePromise;
  }

  async function createDecoder(engine: Engine): Promise<PocketSphinxDecoder> {
    liveDecoders += 1;
    try {
      return await PocketSphinxDecoder.create(engine.binding, engine.model);
    } catch (error) {
      liveDecoders -= 1;
      throw new EarshotError('provider_unavailable', 'PocketSphinx could not load its model', {
        cause: error,
        fatal: true,
        details: { model: engine.model },
      });
    }
  }

  function freeDecoder(decoder: PocketSphinxDecoder, then?: () => void): void {
    track(
      decoder.free().then(
        () => {
          liveDecoders -= 1;
          then?.();
        },
        (error: unknown) => {
          liveDecoders -= 1;
          logger.error({ err: error }, 'freeing a PocketSphinx decoder failed');
        },
      ),
    );
  }

  /** Remembers decoders being freed so `close()` can wait for them. */
  function track(work: Promise<void>): void {
    background.add(work);
    void work.finally(() => background.delete(work));
  }

  /** Puts a decoder back in the pool, or frees it when the pool is full or closed. */
  function adopt(decoder: PocketSphinxDecoder): void {
    if (closed || liveDecoders > maxStreams) freeDecoder(decoder);
    else idle.push(decoder);
  }

  /** Keeps `warmTarget` decoders ready, never more than `maxStreams` alive in all. */
  function warmAhead(engine: Engine): void {
    if (closed || warming || idle.length >= warmTarget) return;
    if (liveDecoders >= maxStreams) return;
    const entry = { promise: createDecoder(engine), claimed: false };
    warming = entry;
    entry.promise.then(
      (decoder) => {
        if (warming === entry) warming = undefined;
        if (!entry.claimed) adopt(decoder);
      },
      (error: unknown) => {
        if (warming === entry) warming = undefined;
        logger.warn({ err: error }, 'warming a PocketSphinx decoder failed');
      },
    );
    // The claimer handles a failure; an unclaimed one is logged above.
    entry.promise.catch(() => {});
  }

  async function acquire(engine: Engine): Promise<PocketSphinxDecoder> {
    const ready = idle.pop();
    if (ready) return ready;
    if (warming && !warming.claimed) {
      warming.claimed = true;
      return warming.promise;
    }
    return createDecoder(engine);
  }

  /**
   * Takes a decoder back from a closed stream. It is freed, and a fresh one warmed in its
   * place, rather than reused: a used decoder has adapted its cepstral mean normalization
   * (and noise estimate) to the last speaker, so the next stream's first utterances would no
   * longer match what `pocketsphinx_continuous` prints for the same audio. `ps_init` runs on
   * a worker thread, so this costs CPU off the event loop, not latency for the next open.
   */
  function release(decoder: PocketSphinxDecoder): void {
    activeStreams -= 1;
    // The free is chained behind any call still in flight (an aborted stream's block).
    freeDecoder(decoder, () => {
      if (loadedEngine) warmAhead(loadedEngine);
    });
  }

  function abortError(signal: AbortSignal): EarshotError {
    const reason: unknown = signal.reason;
    if (EarshotError.isInstance(reason)) return reason;
    return new EarshotError('provider_error', 'opening the local stream was aborted', {
      cause: reason,
    });
  }

  /** Resolves with the decoder, or rejects as soon as `signal` aborts (the decoder is pooled). */
  function acquireUnlessAborted(
    engine: Engine,
    signal: AbortSignal | undefined,
  ): Promise<PocketSphinxDecoder> {
    const pending = acquire(engine);
    if (!signal) return pending;
    return new Promise<PocketSphinxDecoder>((resolve, reject) => {
      const onAbort = () => {
        reject(abortError(signal));
        // The decoder still arrives later; it joins the pool instead of leaking.
        pending.then(adopt, () => {});
      };
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(
        (decoder) => {
          signal.removeEventListener('abort', onAbort);
          if (signal.aborted) return;
          resolve(decoder);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  async function open(options: SttStreamOptions, signal?: AbortSignal): Promise<SttStream> {
    if (closed) {
      throw new EarshotError('provider_unavailable', 'the local provider is closed', {
        fatal: true,
      });
    }
    assertAcceptedFormat('local', [PCM16_16K_MONO], options.audio);
    // Checked and taken before any await, so concurrent opens cannot overshoot the limit.
    if (activeStreams >= maxStreams) {
      throw new EarshotError(
        'capacity',
        `the local engine is at its limit of ${maxStreams} stream${maxStreams === 1 ? '' : 's'}`,
      );
    }
    if (signal?.aborted) throw abortError(signal);
    activeStreams += 1;
    let decoder: PocketSphinxDecoder;
    try {
      const engine = await loadEngine();
      if (signal?.aborted) throw abortError(signal);
      decoder = await acquireUnlessAborted(engine, signal);
      if (closed) {
        adopt(decoder);
        throw new EarshotError('provider_unavailable', 'the local provider is closed', {
          fatal: true,
        });
      }
      warmAhead(engine);
    } catch (error) {
      activeStreams -= 1;
      throw EarshotError.from(error, 'provider_error');
    }
    streamCount += 1;
    const logger = options.logger ?? settings.logger;
    return new LocalSttStream(decoder, {
      streamId: `local-${instanceId}-${streamCount}`,
      interimResults: options.interimResults,
      interimIntervalBlocks,
      release,
      ...(logger ? { logger } : {}),
    });
  }

  async function warmUp(): Promise<void> {
    const engine = await loadEngine();
    if (idle.length > 0 || closed) return;
    warmAhead(engine);
    if (warming) await warming.promise;
  }

  async function close(): Promise<void> {
    closed = true;
    for (const decoder of idle.splice(0)) freeDecoder(decoder);
    if (warming) await warming.promise.catch(() => {});
    // A free may be queued behind an aborted stream's last call: wait until all are done.
    while (background.size > 0) await Promise.allSettled([...background]);
  }

  return {
    specificationVersion: 'v1',
    name: 'local',
    capabilities,
    open,
    warmUp,
    close,
  };
}
