import { type Logger, silentLogger } from '@earshot/protocol';
import type * as OpenTelemetryApi from '@opentelemetry/api';
import type { ServerEvents } from '../server-events.js';
import type { SessionMetrics } from '../session/session-metrics.js';
import { subscribeGuarded } from './guarded-listeners.js';
import { INSTRUMENTATION_SCOPE } from './instrumentation-scope.js';
import { METRIC_BUCKETS } from './metric-buckets.js';

type Api = typeof OpenTelemetryApi;
type Span = OpenTelemetryApi.Span;
type Attributes = OpenTelemetryApi.Attributes;

/** Options of {@link createOpenTelemetryInstrumentation}. */
export interface OpenTelemetryOptions {
  /** Where an instrumentation failure is logged (pino-compatible). Silent by default. */
  readonly logger?: Logger;
}

/** A server's OpenTelemetry instrumentation, live until closed. */
export interface OpenTelemetryInstrumentation {
  /**
   * Stops recording (unsubscribes from the server's events) and ends the spans of sessions
   * still live, so none is left open. Idempotent.
   */
  close(): void;
}

/** Name of the span each session gets. */
export const SESSION_SPAN_NAME = 'earshot.session';

/**
 * OpenTelemetry spans and metrics of a server, recorded from its events (`earshot.events`)
 * through the global OpenTelemetry API, so they go wherever the app's SDK sends them.
 * `@opentelemetry/api` is an optional peer dependency, loaded here only: when the app has not
 * installed it, this resolves `undefined` and records nothing.
 *
 * Each session gets an `earshot.session` span from `session_started` to `session_ended`
 * (attributes: session id, provider, end reason and the session's figures; status error when
 * the session failed; an event per provider error). Instruments: `earshot.provider.latency`,
 * `earshot.session.time_to_first_transcript`, `earshot.session.duration` and
 * `earshot.store.operation.duration` histograms (seconds); `earshot.session.started`,
 * `earshot.session.ended`, `earshot.audio.received`, `earshot.transcript.finals` and
 * `earshot.provider.errors` counters; `earshot.session.active`.
 *
 * @example
 * ```ts
 * import { NodeSDK } from '@opentelemetry/sdk-node';
 * import { createEarshotServer, createOpenTelemetryInstrumentation } from '@earshot/server';
 *
 * new NodeSDK({ traceExporter, metricReader }).start();
 * const earshot = createEarshotServer({ provider });
 * const otel = await createOpenTelemetryInstrumentation(earshot.events);
 * // …
 * otel?.close();
 * ```
 */
export async function createOpenTelemetryInstrumentation(
  events: ServerEvents,
  options: OpenTelemetryOptions = {},
): Promise<OpenTelemetryInstrumentation | undefined> {
  const logger = options.logger ?? silentLogger;
  const api = await importOptionalPeer('@opentelemetry/api', () => import('@opentelemetry/api'));
  if (!api) {
    logger.debug({}, '@opentelemetry/api is not installed: no OpenTelemetry spans or metrics');
    return undefined;
  }
  return instrument(api, events, logger);
}

/**
 * Loads an optional peer dependency with `load` (a literal `import()`, so bundlers see it).
 * Resolves `undefined` when the package itself is not installed; any other failure (a broken
 * install, a dependency of it missing) is thrown.
 */
export async function importOptionalPeer<T>(
  specifier: string,
  load: () => Promise<T>,
): Promise<T | undefined> {
  let loaded: T;
  try {
    loaded = await load();
  } catch (error) {
    if (isNotFound(error, specifier)) return undefined;
    throw error;
  }
  // A CommonJS build loaded by `import()` may only have a `default` export.
  const module = loaded as T & { default?: T };
  return module.default !== undefined && !hasOwnExports(module) ? module.default : module;
}

function isNotFound(error: unknown, specifier: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  const notFound = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
  // Node names what it could not find first: `Cannot find package '<specifier>' imported…`.
  return notFound && new RegExp(`['"]${escapeRegExp(specifier)}['"/]`).test(error.message);
}

function hasOwnExports(module: object): boolean {
  return Object.keys(module).some((key) => key !== 'default' && key !== '__esModule');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The instruments, made from one meter provider. */
interface Instruments {
  readonly provider: OpenTelemetryApi.MeterProvider;
  readonly providerLatency: OpenTelemetryApi.Histogram;
  readonly timeToFirstTranscript: OpenTelemetryApi.Histogram;
  readonly sessionDuration: OpenTelemetryApi.Histogram;
  readonly storeOperation: OpenTelemetryApi.Histogram;
  readonly sessionsStarted: OpenTelemetryApi.Counter;
  readonly sessionsEnded: OpenTelemetryApi.Counter;
  readonly sessionsActive: OpenTelemetryApi.UpDownCounter;
  readonly audioReceived: OpenTelemetryApi.Counter;
  readonly finals: OpenTelemetryApi.Counter;
  readonly providerErrors: OpenTelemetryApi.Counter;
}

function createInstruments(api: Api): Instruments {
  const provider = api.metrics.getMeterProvider();
  const meter = provider.getMeter(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
  const seconds = (name: string, description: string, buckets: readonly number[]) =>
    meter.createHistogram(name, {
      description,
      unit: 's',
      advice: { explicitBucketBoundaries: [...buckets] },
    });
  return {
    provider,
    providerLatency: seconds(
      'earshot.provider.latency',
      "From the end of an utterance's audio reaching the server to its final.",
      METRIC_BUCKETS.providerLatency,
    ),
    timeToFirstTranscript: seconds(
      'earshot.session.time_to_first_transcript',
      "From a session's first audio frame to its first transcript.",
      METRIC_BUCKETS.timeToFirstTranscript,
    ),
    sessionDuration: seconds(
      'earshot.session.duration',
      "Sessions' wall-clock length, from creation to end.",
      METRIC_BUCKETS.sessionDuration,
    ),
    storeOperation: seconds(
      'earshot.store.operation.duration',
      'Store operations, successful or not.',
      METRIC_BUCKETS.storeOperation,
    ),
    sessionsStarted: meter.createCounter('earshot.session.started', {
      description: 'Sessions that started streaming.',
      unit: '{session}',
    }),
    sessionsEnded: meter.createCounter('earshot.session.ended', {
      description: 'Started sessions that ended.',
      unit: '{session}',
    }),
    sessionsActive: meter.createUpDownCounter('earshot.session.active', {
      description: 'Sessions streaming now.',
      unit: '{session}',
    }),
    audioReceived: meter.createCounter('earshot.audio.received', {
      description: 'Seconds of audio received, counted when a session ends.',
      unit: 's',
    }),
    finals: meter.createCounter('earshot.transcript.finals', {
      description: 'Final transcript segments.',
      unit: '{segment}',
    }),
    providerErrors: meter.createCounter('earshot.provider.errors', {
      description: 'Errors the providers reported.',
      unit: '{error}',
    }),
  };
}

/** What is kept for a session between its start and its end. */
interface LiveSpan {
  readonly span: Span;
  /** The instruments its start was counted with, for the active count to come down on. */
  readonly instruments: Instruments;
  /** The code of the last fatal provider error, the session's likely cause of failure. */
  fatalCode?: string;
}

function instrument(api: Api, events: ServerEvents, logger: Logger): OpenTelemetryInstrumentation {
  // Tracer and instruments are looked up through the global API as they are used, so an SDK
  // the app registers later is picked up: the API's meters do not follow a provider registered
  // after them, so instruments are made again when the registered provider changes.
  const tracer = () =>
    api.trace.getTracer(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
  let current: Instruments | undefined;
  const instruments = () => {
    const provider = api.metrics.getMeterProvider();
    if (current?.provider !== provider) current = createInstruments(api);
    return current;
  };
  const spans = new Map<string, LiveSpan>();

  const unsubscribe = subscribeGuarded(
    events,
    {
      session_started({ sessionId, provider }) {
        const span = tracer().startSpan(SESSION_SPAN_NAME, {
          kind: api.SpanKind.INTERNAL,
          attributes: { 'earshot.session.id': sessionId, 'earshot.provider.name': provider },
        });
        spans.get(sessionId)?.span.end();
        const i = instruments();
        spans.set(sessionId, { span, instruments: i });
        i.sessionsStarted.add(1, { 'earshot.provider.name': provider });
        i.sessionsActive.add(1, { 'earshot.provider.name': provider });
      },
      final_transcript({ provider, latencyMs }) {
        const i = instruments();
        i.finals.add(1, { 'earshot.provider.name': provider });
        if (latencyMs !== undefined) {
          i.providerLatency.record(latencyMs / 1000, { 'earshot.provider.name': provider });
        }
      },
      provider_error({ sessionId, provider, code, fatal }) {
        const attributes = {
          'earshot.provider.name': provider,
          'error.type': code,
          'earshot.error.fatal': fatal,
        };
        instruments().providerErrors.add(1, attributes);
        const live = spans.get(sessionId);
        if (!live) return;
        live.span.addEvent('earshot.provider_error', attributes);
        if (fatal) live.fatalCode = code;
      },
      // This node's part of the session ends here; the node it moved to records the rest.
      session_handed_over({ sessionId, provider = 'unknown' }) {
        const live = spans.get(sessionId);
        if (!live) return;
        spans.delete(sessionId);
        live.span.setAttribute('earshot.session.end_reason', 'handed_over');
        live.span.end();
        live.instruments.sessionsActive.add(-1, { 'earshot.provider.name': provider });
      },
      session_ended({ sessionId, provider = 'unknown', reason, status, metrics }) {
        const now = Date.now();
        const live = spans.get(sessionId);
        spans.delete(sessionId);
        // A session that failed while starting never had a span: give it one over its life.
        const span =
          live?.span ??
          tracer().startSpan(SESSION_SPAN_NAME, {
            kind: api.SpanKind.INTERNAL,
            startTime: now - metrics.durationSeconds * 1000,
            attributes: { 'earshot.session.id': sessionId, 'earshot.provider.name': provider },
          });
        span.setAttributes({
          'earshot.session.end_reason': reason,
          'earshot.session.status': status,
          ...sessionAttributes(metrics),
        });
        if (status === 'failed') {
          span.setAttribute('error.type', live?.fatalCode ?? reason);
          span.setStatus({ code: api.SpanStatusCode.ERROR, message: `session ${reason}` });
        }
        span.end(now);

        const i = instruments();
        const byProvider = { 'earshot.provider.name': provider };
        live?.instruments.sessionsActive.add(-1, byProvider);
        i.sessionsEnded.add(1, {
          ...byProvider,
          'earshot.session.status': status,
          'earshot.session.end_reason': reason,
        });
        i.sessionDuration.record(metrics.durationSeconds, {
          ...byProvider,
          'earshot.session.status': status,
        });
        i.audioReceived.add(metrics.audioSeconds, byProvider);
        if (metrics.firstTranscriptMs !== undefined) {
          i.timeToFirstTranscript.record(metrics.firstTranscriptMs / 1000, byProvider);
        }
      },
      store_operation({ operation, ms, ok }) {
        const attributes: Attributes = { 'earshot.store.operation.name': operation };
        if (!ok) attributes['error.type'] = 'store_error';
        instruments().storeOperation.record(ms / 1000, attributes);
      },
    },
    logger,
    'OpenTelemetry instrumentation',
  );

  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      for (const { span } of spans.values()) span.end();
      spans.clear();
    },
  };
}

/** A session's figures as span attributes, named after {@link SessionMetrics}' fields. */
function sessionAttributes(m: SessionMetrics): Attributes {
  const attributes: Attributes = {
    'earshot.session.audio_seconds': m.audioSeconds,
    'earshot.session.audio_bytes': m.bytesReceived,
    'earshot.session.audio_chunks': m.chunksReceived,
    'earshot.session.final_segments': m.finalSegments,
    'earshot.session.interim_segments': m.interimSegments,
    'earshot.session.resumes': m.resumes,
    'earshot.session.provider_reconnects': m.providerReconnects,
    'earshot.session.replayed_audio_seconds': m.replayedAudioSeconds,
    'earshot.session.errors': m.errors,
    'earshot.session.duration_seconds': m.durationSeconds,
  };
  if (m.firstTranscriptMs !== undefined) {
    attributes['earshot.session.first_transcript_ms'] = m.firstTranscriptMs;
  }
  const latency = m.providerLatencyMs;
  if (latency) {
    attributes['earshot.session.provider_latency_count'] = latency.count;
    attributes['earshot.session.provider_latency_mean_ms'] = latency.mean;
    attributes['earshot.session.provider_latency_p50_ms'] = latency.p50;
    attributes['earshot.session.provider_latency_p95_ms'] = latency.p95;
    attributes['earshot.session.provider_latency_max_ms'] = latency.max;
  }
  return attributes;
}
