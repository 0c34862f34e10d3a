import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { countResources, leftoverResources } from '@earshot/testing';
import { metrics, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createOpenTelemetryInstrumentation,
  INSTRUMENTATION_SCOPE,
  type OpenTelemetryInstrumentation,
  SESSION_SPAN_NAME,
} from '../src/observability/index.js';
import { importOptionalPeer } from '../src/observability/opentelemetry.js';
import { ServerEvents } from '../src/server-events.js';
import type { SessionMetrics } from '../src/session/session-metrics.js';

// The real OpenTelemetry SDKs, registered globally as an app would, with in-memory exporters:
// the instrumentation only talks to the global API, and these read back what reached the SDK.

let spans: InMemorySpanExporter;
let tracerProvider: TracerProvider;
let metricExporter: InMemoryMetricExporter;
let reader: PeriodicExportingMetricReader;
let meterProvider: MeterProvider;
const opened: OpenTelemetryInstrumentation[] = [];

function registerSdks(): void {
  spans = new InMemorySpanExporter();
  tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
  });
  trace.setGlobalTracerProvider(tracerProvider);
  metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // Exported on demand (forceFlush) only: the interval is longer than any test.
  reader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 3_600_000,
  });
  meterProvider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);
}

beforeEach(registerSdks);

afterEach(async () => {
  for (const instrumentation of opened.splice(0)) instrumentation.close();
  trace.disable();
  metrics.disable();
  await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
});

async function instrument(events: ServerEvents): Promise<OpenTelemetryInstrumentation> {
  const instrumentation = await createOpenTelemetryInstrumentation(events);
  if (!instrumentation) throw new Error('@opentelemetry/api is a devDependency: it must load');
  opened.push(instrumentation);
  return instrumentation;
}

/** What the SDK holds now, by instrument name. */
async function collected(): Promise<Map<string, MetricData>> {
  await reader.forceFlush();
  const latest = metricExporter.getMetrics().at(-1);
  const byName = new Map<string, MetricData>();
  for (const scope of latest?.scopeMetrics ?? []) {
    for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
  }
  return byName;
}

/** The value of a counter's data point with these attributes. */
function sum(metric: MetricData | undefined, attributes: Record<string, unknown> = {}): number {
  let total = 0;
  for (const point of metric?.dataPoints ?? []) {
    const matches = Object.entries(attributes).every(([k, v]) => point.attributes[k] === v);
    if (matches) total += point.value as number;
  }
  return total;
}

/** A histogram's data point with these attributes. */
function histogram(metric: MetricData | undefined, attributes: Record<string, unknown> = {}) {
  expect(metric?.dataPointType).toBe(DataPointType.HISTOGRAM);
  const point = metric?.dataPoints.find((p) =>
    Object.entries(attributes).every(([k, v]) => p.attributes[k] === v),
  );
  return point?.value as Histogram | undefined;
}

function figures(overrides: Partial<SessionMetrics> = {}): SessionMetrics {
  return {
    chunksReceived: 40,
    bytesReceived: 128_000,
    audioSeconds: 4,
    finalSegments: 2,
    interimSegments: 7,
    firstTranscriptMs: 640,
    providerLatencyMs: { count: 2, mean: 300, p50: 180, p95: 420, max: 420 },
    resumes: 1,
    providerReconnects: 1,
    replayedAudioSeconds: 0.8,
    errors: 0,
    durationSeconds: 5.2,
    ...overrides,
  };
}

const onlySpan = (): ReadableSpan => {
  const finished = spans.getFinishedSpans();
  expect(finished).toHaveLength(1);
  return finished[0]!;
};

describe('createOpenTelemetryInstrumentation', () => {
  it('gives a session one span from session_started to session_ended, with its figures and provider errors', async () => {
    const events = new ServerEvents();
    await instrument(events);
    events.emit('session_started', { sessionId: 's1', provider: 'local', metadata: {} });
    events.emit('provider_error', {
      sessionId: 's1',
      provider: 'local',
      code: 'provider_error',
      fatal: false,
    });
    events.emit('final_transcript', { sessionId: 's1', provider: 'local', latencyMs: 180 });
    events.emit('final_transcript', { sessionId: 's1', provider: 'local', latencyMs: 420 });
    expect(spans.getFinishedSpans()).toHaveLength(0);
    events.emit('session_ended', {
      sessionId: 's1',
      provider: 'local',
      reason: 'stopped',
      status: 'ended',
      metrics: figures(),
    });

    const span = onlySpan();
    expect(span.name).toBe(SESSION_SPAN_NAME);
    expect(span.instrumentationScope).toMatchObject(INSTRUMENTATION_SCOPE);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes).toMatchObject({
      'earshot.session.id': 's1',
      'earshot.provider.name': 'local',
      'earshot.session.end_reason': 'stopped',
      'earshot.session.status': 'ended',
      'earshot.session.audio_seconds': 4,
      'earshot.session.audio_bytes': 128_000,
      'earshot.session.final_segments': 2,
      'earshot.session.first_transcript_ms': 640,
      'earshot.session.provider_latency_p95_ms': 420,
      'earshot.session.resumes': 1,
      'earshot.session.provider_reconnects': 1,
      'earshot.session.replayed_audio_seconds': 0.8,
    });
    expect(span.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'earshot.provider_error',
        {
          'earshot.provider.name': 'local',
          'error.type': 'provider_error',
          'earshot.error.fatal': false,
        },
      ],
    ]);
  });

  it('records provider latency, time to first transcript, sessions, audio and provider errors as instruments', async () => {
    const events = new ServerEvents();
    await instrument(events);
    events.emit('session_started', { sessionId: 's1', provider: 'local', metadata: {} });
    events.emit('final_transcript', { sessionId: 's1', provider: 'local', latencyMs: 180 });
    events.emit('final_transcript', { sessionId: 's1', provider: 'local', latencyMs: 420 });
    events.emit('final_transcript', { sessionId: 's1', provider: 'local' });
    events.emit('provider_error', {
      sessionId: 's1',
      provider: 'local',
      code: 'provider_error',
      fatal: false,
    });
    const live = await collected();
    expect(sum(live.get('earshot.session.active'))).toBe(1);

    events.emit('session_ended', {
      sessionId: 's1',
      provider: 'local',
      reason: 'stopped',
      status: 'ended',
      metrics: figures(),
    });
    const m = await collected();
    const local = { 'earshot.provider.name': 'local' };
    expect(sum(m.get('earshot.session.started'), local)).toBe(1);
    expect(
      sum(m.get('earshot.session.ended'), {
        ...local,
        'earshot.session.status': 'ended',
        'earshot.session.end_reason': 'stopped',
      }),
    ).toBe(1);
    expect(sum(m.get('earshot.session.active'))).toBe(0);
    expect(sum(m.get('earshot.audio.received'), local)).toBe(4);
    expect(m.get('earshot.audio.received')?.descriptor.unit).toBe('s');
    expect(sum(m.get('earshot.transcript.finals'), local)).toBe(3);
    expect(
      sum(m.get('earshot.provider.errors'), {
        ...local,
        'error.type': 'provider_error',
        'earshot.error.fatal': false,
      }),
    ).toBe(1);

    const latency = histogram(m.get('earshot.provider.latency'), local);
    expect(m.get('earshot.provider.latency')?.descriptor.unit).toBe('s');
    expect(latency?.count).toBe(2);
    expect(latency?.sum).toBeCloseTo(0.6);
    expect(latency?.buckets.boundaries[0]).toBe(0.05);
    expect(latency?.buckets.boundaries.at(-1)).toBe(10);
    expect(histogram(m.get('earshot.session.time_to_first_transcript'), local)?.sum).toBe(0.64);
    expect(histogram(m.get('earshot.session.duration'), local)?.sum).toBe(5.2);
  });

  it('times store operations, with error.type on the failed ones', async () => {
    const events = new ServerEvents();
    await instrument(events);
    events.emit('store_operation', { operation: 'appendSegment', ms: 4, ok: true });
    events.emit('store_operation', { operation: 'appendSegment', ms: 12, ok: true });
    events.emit('store_operation', { operation: 'appendSegment', ms: 5000, ok: false });
    const m = await collected();
    const metric = m.get('earshot.store.operation.duration');
    expect(metric?.descriptor.unit).toBe('s');
    const ok = metric?.dataPoints.find((p) => p.attributes['error.type'] === undefined);
    const failed = metric?.dataPoints.find((p) => p.attributes['error.type'] === 'store_error');
    expect(ok?.attributes).toEqual({ 'earshot.store.operation.name': 'appendSegment' });
    expect((ok?.value as Histogram | undefined)?.count).toBe(2);
    expect((ok?.value as Histogram | undefined)?.sum).toBeCloseTo(0.016);
    expect((failed?.value as Histogram | undefined)?.count).toBe(1);
  });

  it("marks a failed session's span as an error, with the fatal provider error as its error.type", async () => {
    const events = new ServerEvents();
    await instrument(events);
    events.emit('session_started', { sessionId: 's1', provider: 'deepgram', metadata: {} });
    events.emit('provider_error', {
      sessionId: 's1',
      provider: 'deepgram',
      code: 'unauthorized',
      fatal: true,
    });
    events.emit('session_ended', {
      sessionId: 's1',
      provider: 'deepgram',
      reason: 'error',
      status: 'failed',
      metrics: figures({ errors: 1, finalSegments: 0, firstTranscriptMs: undefined }),
    });
    const span = onlySpan();
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'session error' });
    expect(span.attributes['error.type']).toBe('unauthorized');
    expect(span.attributes).not.toHaveProperty('earshot.session.first_transcript_ms');
    expect(span.events[0]?.attributes?.['earshot.error.fatal']).toBe(true);
  });

  it('gives a session that failed while starting a span over its life, and leaves the active count alone', async () => {
    const events = new ServerEvents();
    await instrument(events);
    events.emit('session_ended', {
      sessionId: 's1',
      provider: 'local',
      reason: 'error',
      status: 'failed',
      metrics: figures({ durationSeconds: 2.5, audioSeconds: 0, firstTranscriptMs: undefined }),
    });
    const span = onlySpan();
    const [seconds, nanos] = span.duration;
    expect(seconds + nanos / 1e9).toBeCloseTo(2.5, 2);
    expect(span.attributes['error.type']).toBe('error');
    const m = await collected();
    expect(m.get('earshot.session.active')?.dataPoints ?? []).toEqual([]);
    expect(sum(m.get('earshot.session.ended'), { 'earshot.session.status': 'failed' })).toBe(1);
  });

  it('picks up an SDK the app registers after the instrumentation was created', async () => {
    trace.disable();
    metrics.disable();
    const events = new ServerEvents();
    await instrument(events);
    events.emit('final_transcript', { sessionId: 's0', provider: 'local', latencyMs: 100 });
    // Now the app starts its SDK, as a late `sdk.start()` would.
    await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    registerSdks();
    events.emit('session_started', { sessionId: 's1', provider: 'local', metadata: {} });
    events.emit('final_transcript', { sessionId: 's1', provider: 'local', latencyMs: 300 });
    events.emit('session_ended', {
      sessionId: 's1',
      provider: 'local',
      reason: 'stopped',
      status: 'ended',
      metrics: figures(),
    });
    expect(onlySpan().attributes['earshot.session.id']).toBe('s1');
    const latency = histogram((await collected()).get('earshot.provider.latency'));
    expect(latency?.count).toBe(1);
    expect(latency?.sum).toBeCloseTo(0.3);
  });

  it('ends the spans of live sessions when closed, and records nothing after', async () => {
    const events = new ServerEvents();
    const instrumentation = await instrument(events);
    events.emit('session_started', { sessionId: 's1', provider: 'local', metadata: {} });
    instrumentation.close();
    instrumentation.close();
    expect(onlySpan().attributes['earshot.session.id']).toBe('s1');
    for (const name of ['session_started', 'final_transcript', 'session_ended'] as const) {
      expect(events.listenerCount(name)).toBe(0);
    }
    events.emit('session_started', { sessionId: 's2', provider: 'local', metadata: {} });
    expect(sum((await collected()).get('earshot.session.started'))).toBe(1);
  });

  it('leaves no timer or handle behind', async () => {
    const before = countResources();
    const events = new ServerEvents();
    const instrumentation = await instrument(events);
    events.emit('session_started', { sessionId: 's1', provider: 'local', metadata: {} });
    events.emit('final_transcript', { sessionId: 's1', provider: 'local', latencyMs: 120 });
    instrumentation.close();
    expect(await leftoverResources(before)).toEqual([]);
  });

  it('names its tracer and meter after @earshot/server, at the version of its package.json', () => {
    const pkg = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8'),
    ) as { name: string; version: string };
    expect(INSTRUMENTATION_SCOPE).toEqual({ name: pkg.name, version: pkg.version });
  });
});

describe('importOptionalPeer', () => {
  // The real import of a package that is not installed: what an app without
  // @opentelemetry/api gets (here it is a devDependency, so it cannot be absent).
  const missing = '@earshot/not-an-installed-package';

  it('resolves undefined, without an error, when the package is not installed', async () => {
    await expect(
      importOptionalPeer(missing, () => import(/* @vite-ignore */ missing)),
    ).resolves.toBe(undefined);
  });

  it('throws when the package is there but something it needs is missing', async () => {
    await expect(
      importOptionalPeer('@opentelemetry/api', () => import(/* @vite-ignore */ missing)),
    ).rejects.toThrow(missing);
  });

  it('throws any other failure to load', async () => {
    await expect(
      importOptionalPeer('@opentelemetry/api', () => Promise.reject(new TypeError('broken build'))),
    ).rejects.toThrow('broken build');
  });

  it('resolves the module when it is installed', async () => {
    const api = await importOptionalPeer('@opentelemetry/api', () => import('@opentelemetry/api'));
    expect(api?.trace).toBe(trace);
  });
});
