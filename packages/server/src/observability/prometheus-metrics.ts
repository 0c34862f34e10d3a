import { type Logger, silentLogger } from '@earshot/protocol';
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  Registry,
  type RegistryContentType,
} from 'prom-client';
import type { MetricsExposition } from '../rest/rest-router.js';
import type { ServerEvents } from '../server-events.js';
import { subscribeGuarded } from './guarded-listeners.js';
import { METRIC_BUCKETS } from './metric-buckets.js';

/** Options of {@link createPrometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /**
   * Where the metrics are registered. Defaults to a registry of their own, never prom-client's
   * global one, so that two servers in one process do not clash. Pass the app's registry to
   * serve Earshot's metrics with its own (then give each server its own `prefix`).
   */
  readonly registry?: Registry<RegistryContentType>;
  /** Prepended to every metric name. Defaults to `earshot_`. */
  readonly prefix?: string;
  /**
   * Also collect prom-client's default Node process metrics (CPU, memory, event loop lag, GC,
   * handles), with the same prefix. Off by default: the app may collect them already.
   */
  readonly defaultMetrics?: boolean;
  /**
   * How many sessions are live now, read at each scrape (e.g. `() => earshot.sessions().length`,
   * which also counts connected sessions not started yet and ones waiting for a resume).
   * Without it, sessions started and not yet ended are counted from the events.
   */
  readonly liveSessions?: () => number;
  /** Where a metrics failure is logged (pino-compatible). Silent by default. */
  readonly logger?: Logger;
}

/** A server's Prometheus metrics: what `GET /metrics` serves. */
export interface PrometheusMetrics extends MetricsExposition {
  /** The registry the metrics are in. */
  readonly registry: Registry<RegistryContentType>;
  /**
   * Stops counting (unsubscribes from the server's events) and takes the metrics out of the
   * registry. prom-client's default metrics keep their process-wide GC observer and event loop
   * monitor, which it cannot stop. Idempotent.
   */
  close(): void;
}

const DEFAULT_PREFIX = 'earshot_';

/**
 * Prometheus metrics of a server, counted from its events (`earshot.events`): live, started
 * and ended sessions, audio received, transcript segments, time to first transcript, provider
 * latency (audio end → final), provider errors, client resumes and provider reconnects with
 * the audio they replayed, session durations and store latency. Labels are bounded (provider,
 * status, reason, code, operation): never a session id.
 *
 * Finals and provider latencies are counted as they happen; the figures a session only knows
 * whole at its end (audio seconds, bytes, chunks, resumes, reconnects, replay, errors, time to
 * first transcript, duration) are counted from `session_ended`.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createEarshotServer, createPrometheusMetrics } from '@earshot/server';
 *  *
 * const earshot = createEarshotServer({ provider });
 * const metrics = createPrometheusMetrics(earshot.events, {
 *   liveSessions: () => earshot.sessions().length,
 * });
 * createServer(async (req, res) => {
 *   if (req.url === '/metrics') {
 *     res.setHeader('content-type', metrics.contentType);
 *     res.end(await metrics.render());
 *   }
 * }).listen(9464);
 * ```
 */
export function createPrometheusMetrics(
  events: ServerEvents,
  options: PrometheusMetricsOptions = {},
): PrometheusMetrics {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const logger = options.logger ?? silentLogger;
  const before = new Set(registry.getMetricsAsArray().map((m) => m.name));
  const added = () =>
    registry
      .getMetricsAsArray()
      .map((m) => m.name)
      .filter((n) => !before.has(n));
  // Sessions seen starting and not yet ended, for when the app gives no `liveSessions`. A set,
  // not a number: a session that fails while starting ends without having started.
  const live = new Set<string>();
  let metrics: ReturnType<typeof registerMetrics>;
  try {
    metrics = registerMetrics(registry, prefix, options.liveSessions ?? (() => live.size));
    if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix });
  } catch (error) {
    // A name already taken in the app's registry: leave it as it was.
    for (const name of added()) registry.removeSingleMetric(name);
    throw error;
  }
  const ours = added();
  const {
    started,
    ended,
    duration,
    audioSeconds,
    audioBytes,
    audioChunks,
    finals,
    interims,
    firstTranscript,
    providerLatency,
    providerErrors,
    sessionErrors,
    resumes,
    reconnects,
    replayed,
    storeLatency,
    storeErrors,
  } = metrics;

  const unsubscribe = subscribeGuarded(
    events,
    {
      session_started({ sessionId, provider }) {
        live.add(sessionId);
        started.inc({ provider });
      },
      final_transcript({ provider, latencyMs }) {
        finals.inc({ provider });
        if (latencyMs !== undefined) providerLatency.observe({ provider }, latencyMs / 1000);
      },
      provider_error({ provider, code, fatal }) {
        providerErrors.inc({ provider, code, fatal: String(fatal) });
      },
      // The session goes on (and is counted when it ends) on the node it moved to.
      session_handed_over({ sessionId }) {
        live.delete(sessionId);
      },
      session_ended({ sessionId, provider: providerName, reason, status, metrics: m }) {
        live.delete(sessionId);
        const provider = { provider: providerName ?? 'unknown' };
        ended.inc({ ...provider, status, reason });
        duration.observe({ ...provider, status }, m.durationSeconds);
        add(audioSeconds, provider, m.audioSeconds);
        add(audioBytes, provider, m.bytesReceived);
        add(audioChunks, provider, m.chunksReceived);
        add(interims, provider, m.interimSegments);
        add(sessionErrors, provider, m.errors);
        add(resumes, provider, m.resumes);
        add(reconnects, provider, m.providerReconnects);
        add(replayed, provider, m.replayedAudioSeconds);
        if (m.firstTranscriptMs !== undefined) {
          firstTranscript.observe(provider, m.firstTranscriptMs / 1000);
        }
      },
      store_operation({ operation, ms, ok }) {
        storeLatency.observe({ operation, ok: String(ok) }, ms / 1000);
        if (!ok) storeErrors.inc({ operation });
      },
    },
    logger,
    'Prometheus metrics',
  );

  let closed = false;
  return {
    registry,
    get contentType() {
      return registry.contentType;
    },
    render: () => registry.metrics(),
    close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      for (const metric of ours) registry.removeSingleMetric(metric);
    },
  };
}

/** Adds a session's figure to a counter; the series exists (at 0) from the first session on. */
function add<L extends string>(
  counter: Counter<L>,
  labels: Partial<Record<L, string>>,
  value: number,
): void {
  if (Number.isFinite(value) && value >= 0) counter.inc(labels, value);
}

/** Creates the metrics in `registry`, named `<prefix><name>`. */
function registerMetrics(
  registry: Registry<RegistryContentType>,
  prefix: string,
  liveSessions: () => number,
) {
  const registers = [registry];
  const name = (suffix: string) => `${prefix}${suffix}`;

  new Gauge({
    name: name('live_sessions'),
    help: 'Sessions live on this process now.',
    registers,
    collect() {
      this.set(liveSessions());
    },
  });

  const counter = <L extends string>(suffix: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name: name(suffix), help, labelNames, registers });
  const histogram = <L extends string>(
    suffix: string,
    help: string,
    labelNames: readonly L[],
    buckets: readonly number[],
  ) => new Histogram<L>({ name: name(suffix), help, labelNames, buckets: [...buckets], registers });

  const started = counter('sessions_started_total', 'Sessions that started streaming.', [
    'provider',
  ]);
  const ended = counter('sessions_ended_total', 'Sessions that ended, by status and reason.', [
    'provider',
    'status',
    'reason',
  ]);
  const duration = histogram(
    'session_duration_seconds',
    "Sessions' wall-clock length, from creation to end.",
    ['provider', 'status'],
    METRIC_BUCKETS.sessionDuration,
  );
  const audioSeconds = counter('audio_seconds_total', 'Seconds of audio received.', ['provider']);
  const audioBytes = counter('audio_bytes_total', 'Bytes of audio received.', ['provider']);
  const audioChunks = counter('audio_chunks_total', 'Binary audio frames received.', ['provider']);
  const finals = counter('final_segments_total', 'Final transcript segments.', ['provider']);
  const interims = counter('interim_segments_total', 'Interim transcript results.', ['provider']);
  const firstTranscript = histogram(
    'time_to_first_transcript_seconds',
    "From a session's first audio frame to its first transcript.",
    ['provider'],
    METRIC_BUCKETS.timeToFirstTranscript,
  );
  const providerLatency = histogram(
    'provider_latency_seconds',
    "From the end of an utterance's audio reaching the server to its final.",
    ['provider'],
    METRIC_BUCKETS.providerLatency,
  );
  const providerErrors = counter('provider_errors_total', 'Errors the providers reported.', [
    'provider',
    'code',
    'fatal',
  ]);
  const sessionErrors = counter('session_errors_total', 'Errors reported to clients.', [
    'provider',
  ]);
  const resumes = counter(
    'client_resumes_total',
    'Times a client reconnected and resumed its session.',
    ['provider'],
  );
  const reconnects = counter('provider_reconnects_total', 'Times a provider stream reconnected.', [
    'provider',
  ]);
  const replayed = counter(
    'replayed_audio_seconds_total',
    'Seconds of audio sent to a provider again after its reconnects.',
    ['provider'],
  );
  const storeLatency = histogram(
    'store_operation_duration_seconds',
    'Store operations, successful or not.',
    ['operation', 'ok'],
    METRIC_BUCKETS.storeOperation,
  );
  const storeErrors = counter('store_errors_total', 'Store operations that failed.', ['operation']);

  return {
    started,
    ended,
    duration,
    audioSeconds,
    audioBytes,
    audioChunks,
    finals,
    interims,
    firstTranscript,
    providerLatency,
    providerErrors,
    sessionErrors,
    resumes,
    reconnects,
    replayed,
    storeLatency,
    storeErrors,
  };
}
