import { EarshotClient } from '@earshot/client';
import { streamFile } from '@earshot/client/node';
import type { TranscriptMessage } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import { readWavPcm16, type SpeechFixture, speechFixtures } from '@earshot/testing';
import { metrics, trace } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import {
  createOpenTelemetryInstrumentation,
  type OpenTelemetryInstrumentation,
  type PrometheusMetrics,
} from '../src/observability/index.js';
import type { ServerEventMap } from '../src/server-events.js';

// One real session — EarshotClient → server → local PocketSphinx engine → memory store — with
// the Prometheus module and the OpenTelemetry instrumentation (real SDKs, in-memory exporters)
// subscribed to the running server's events. The exposition is read as Prometheus parses it.

const provider = createLocalProvider({ maxConcurrentStreams: 1 });
const spans = new InMemorySpanExporter();
const tracerProvider = new TracerProvider({
  spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
});
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });
let server: RunningServer;
let prometheus: PrometheusMetrics;
let otel: OpenTelemetryInstrumentation | undefined;
let fixture: SpeechFixture;

beforeAll(async () => {
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  // The server's own Prometheus metrics; its OpenTelemetry instrumentation is made here
  // instead, awaited, so the session surely starts after it is listening.
  server = await listen({ provider, port: 0, openTelemetry: false });
  prometheus = server.earshot.metrics!;
  otel = await createOpenTelemetryInstrumentation(server.earshot.events);
  [fixture] = (await speechFixtures()) as [SpeechFixture];
});

afterAll(async () => {
  otel?.close();
  await server?.close();
  await provider.close();
  trace.disable();
  metrics.disable();
  await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
});

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses Prometheus' text exposition format (0.0.4) into its samples. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const [, name = '', body = '', raw = ''] = match;
    const labels: Record<string, string> = {};
    for (const [, key = '', value = ''] of body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name, labels, value });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels`. */
function total(samples: readonly Sample[], name: string, labels: Record<string, string> = {}) {
  return samples
    .filter((s) => s.name === name)
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

describe('metrics of a real session over the local engine', () => {
  it('shows the session, its audio, its provider latency and its store operations in the Prometheus exposition and in its span', async () => {
    const { format, pcm } = await readWavPcm16(fixture.path);
    const fixtureSeconds = pcm.byteLength / (format.sampleRate * format.channels * 2);
    const ended = new Promise<ServerEventMap['session_ended'][0]>((resolve) =>
      server.earshot.events.once('session_ended', resolve),
    );

    const client = new EarshotClient({ url: `${server.url.replace('http', 'ws')}/v1/listen` });
    const finals: TranscriptMessage[] = [];
    client.on('transcript', (t) => t.isFinal && finals.push(t));
    await client.start({ audio: format });
    const sent = await streamFile(client, fixture.path, { pace: 'fast' });
    const closed = await client.stop();
    const end = await ended;
    expect(finals.length, 'the engine heard words').toBeGreaterThan(0);

    const samples = parseExposition(await prometheus.render());
    const local = { provider: 'local' };
    expect(total(samples, 'earshot_live_sessions')).toBe(0);
    expect(total(samples, 'earshot_sessions_started_total', local)).toBe(1);
    expect(
      total(samples, 'earshot_sessions_ended_total', {
        ...local,
        status: 'ended',
        reason: 'stopped',
      }),
    ).toBe(1);
    expect(total(samples, 'earshot_audio_seconds_total', local)).toBeCloseTo(fixtureSeconds, 2);
    expect(total(samples, 'earshot_audio_seconds_total', local)).toBe(closed.summary.audioSeconds);
    expect(total(samples, 'earshot_audio_bytes_total', local)).toBe(sent.bytes);
    expect(total(samples, 'earshot_audio_chunks_total', local)).toBe(sent.chunks);
    expect(total(samples, 'earshot_final_segments_total', local)).toBe(finals.length);
    const latencies = total(samples, 'earshot_provider_latency_seconds_count', local);
    expect(latencies).toBeGreaterThanOrEqual(1);
    expect(latencies).toBe(end.metrics.providerLatencyMs?.count);
    expect(
      total(samples, 'earshot_provider_latency_seconds_bucket', { ...local, le: '+Inf' }),
    ).toBe(latencies);
    expect(total(samples, 'earshot_time_to_first_transcript_seconds_count', local)).toBe(1);
    expect(total(samples, 'earshot_session_duration_seconds_count', local)).toBe(1);
    expect(total(samples, 'earshot_provider_errors_total')).toBe(0);
    // Every final is stored before it is sent; the session is created and ended in the store.
    const stored = (operation: string) =>
      total(samples, 'earshot_store_operation_duration_seconds_count', { operation, ok: 'true' });
    expect(stored('createSession')).toBe(1);
    expect(stored('appendSegment')).toBe(finals.length);
    expect(stored('updateSession')).toBeGreaterThanOrEqual(1);
    expect(total(samples, 'earshot_store_errors_total')).toBe(0);

    const [span, ...others] = spans.getFinishedSpans();
    expect(others).toEqual([]);
    expect(span?.attributes).toMatchObject({
      'earshot.session.id': end.sessionId,
      'earshot.provider.name': 'local',
      'earshot.session.end_reason': 'stopped',
      'earshot.session.final_segments': finals.length,
    });
    expect(span?.attributes['earshot.session.audio_seconds']).toBeCloseTo(fixtureSeconds, 2);
    await reader.forceFlush();
    const otelMetrics = metricExporter.getMetrics().at(-1)?.scopeMetrics[0]?.metrics ?? [];
    const latency = otelMetrics.find((m) => m.descriptor.name === 'earshot.provider.latency');
    expect((latency?.dataPoints[0]?.value as { count: number } | undefined)?.count).toBe(latencies);
  });
});
