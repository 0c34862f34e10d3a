import type { Logger } from '@earshot/protocol';
import { countResources, leftoverResources } from '@earshot/testing';
import {
  Counter,
  register as globalRegistry,
  Registry,
  type RegistryContentType,
} from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createPrometheusMetrics, type PrometheusMetrics } from '../src/observability/index.js';
import { ServerEvents } from '../src/server-events.js';
import type { SessionMetrics } from '../src/session/session-metrics.js';

// The Prometheus module driven by a real ServerEvents with the sequences a session emits.
// Values are read from the registry's JSON (prom-client's getMetricsAsJSON), not from lines.

const opened: PrometheusMetrics[] = [];
afterEach(() => {
  for (const metrics of opened.splice(0)) metrics.close();
});

function prometheus(events: ServerEvents, options?: Parameters<typeof createPrometheusMetrics>[1]) {
  const metrics = createPrometheusMetrics(events, options);
  opened.push(metrics);
  return metrics;
}

/** A session's figures at its end, as SessionMetricsTracker reports them. */
function figures(overrides: Partial<SessionMetrics> = {}): SessionMetrics {
  return {
    chunksReceived: 40,
    bytesReceived: 128_000,
    audioSeconds: 4,
    finalSegments: 2,
    interimSegments: 7,
    firstTranscriptMs: 640,
    providerLatencyMs: { count: 2, mean: 250, p50: 200, p95: 300, max: 300 },
    resumes: 0,
    providerReconnects: 0,
    replayedAudioSeconds: 0,
    errors: 0,
    durationSeconds: 5.2,
    ...overrides,
  };
}

type Labels = Record<string, string>;
type AnyRegistry = Registry<RegistryContentType>;

/**
 * The value of `name` (a metric, or a histogram's `_count`/`_sum`/`_bucket` series) summed over
 * the series whose labels include `labels`; undefined when the metric is not registered.
 */
async function read(
  registry: AnyRegistry,
  name: string,
  labels: Labels = {},
): Promise<number | undefined> {
  const all = await registry.getMetricsAsJSON();
  const metric =
    all.find((m) => m.name === name) ??
    all.find((m) => /_(bucket|sum|count)$/.test(name) && name.startsWith(`${m.name}_`));
  if (!metric) return undefined;
  let total = 0;
  for (const v of metric.values) {
    const series = (v as { metricName?: string }).metricName ?? metric.name;
    if (series !== name) continue;
    if (Object.entries(labels).every(([k, value]) => String(v.labels[k]) === value)) {
      total += v.value;
    }
  }
  return total;
}

/** Every label name used by the registry's series. */
async function labelNames(registry: AnyRegistry): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const v of metric.values) for (const k of Object.keys(v.labels)) names.add(k);
  }
  return names;
}

describe('createPrometheusMetrics', () => {
  it('counts a session from session_started to session_ended, with its figures', async () => {
    const events = new ServerEvents();
    const { registry } = prometheus(events);
    events.emit('session_started', { sessionId: 's1', provider: 'local', metadata: {} });
    events.emit('store_operation', { operation: 'appendSegment', ms: 3.2, ok: true });
    events.emit('final_transcript', { sessionId: 's1', provider: 'local', latencyMs: 180 });
    events.emit('final_transcript', { sessionId: 's1', provider: 'local', latencyMs: 420 });
    expect(await read(registry, 'earshot_live_sessions')).toBe(1);
    expect(await read(registry, 'earshot_final_segments_total', { provider: 'local' })).toBe(2);

    events.emit('session_ended', {
      sessionId: 's1',
      provider: 'local',
      reason: 'stopped',
      status: 'ended',
      metrics: figures(),
    });

    const local = { provider: 'local' };
    expect(await read(registry, 'earshot_live_sessions')).toBe(0);
    expect(await read(registry, 'earshot_sessions_started_total', local)).toBe(1);
    expect(
      await read(registry, 'earshot_sessions_ended_total', {
        provider: 'local',
        status: 'ended',
        reason: 'stopped',
      }),
    ).toBe(1);
    expect(await read(registry, 'earshot_audio_seconds_total', local)).toBe(4);
    expect(await read(registry, 'earshot_audio_bytes_total', local)).toBe(128_000);
    expect(await read(registry, 'earshot_audio_chunks_total', local)).toBe(40);
    expect(await read(registry, 'earshot_interim_segments_total', local)).toBe(7);
    expect(await read(registry, 'earshot_provider_latency_seconds_count', local)).toBe(2);
    expect(await read(registry, 'earshot_provider_latency_seconds_sum', local)).toBeCloseTo(0.6);
    // 180 ms falls in the 0.2 s bucket, 420 ms in the 0.5 s one.
    expect(
      await read(registry, 'earshot_provider_latency_seconds_bucket', { ...local, le: '0.2' }),
    ).toBe(1);
    expect(
      await read(registry, 'earshot_provider_latency_seconds_bucket', { ...local, le: '0.5' }),
    ).toBe(2);
    expect(await read(registry, 'earshot_time_to_first_transcript_seconds_sum', local)).toBe(0.64);
    expect(
      await read(registry, 'earshot_session_duration_seconds_sum', { ...local, status: 'ended' }),
    ).toBe(5.2);
    expect(
      await read(registry, 'earshot_store_operation_duration_seconds_count', {
        operation: 'appendSegment',
        ok: 'true',
      }),
    ).toBe(1);
    // Bounded labels only: a session id would make one series per session.
    expect([...(await labelNames(registry))].sort()).toEqual([
      'le',
      'ok',
      'operation',
      'provider',
      'reason',
      'status',
    ]);
  });

  it('counts what a session rode out: provider errors, reconnects with their replay, client resumes', async () => {
    const events = new ServerEvents();
    const { registry } = prometheus(events);
    events.emit('session_started', { sessionId: 's1', provider: 'deepgram', metadata: {} });
    events.emit('provider_error', {
      sessionId: 's1',
      provider: 'deepgram',
      code: 'provider_error',
      fatal: false,
    });
    events.emit('final_transcript', { sessionId: 's1', provider: 'deepgram', latencyMs: 900 });
    events.emit('session_ended', {
      sessionId: 's1',
      provider: 'deepgram',
      reason: 'stopped',
      status: 'ended',
      metrics: figures({ resumes: 1, providerReconnects: 2, replayedAudioSeconds: 1.5, errors: 1 }),
    });
    events.emit('session_started', { sessionId: 's2', provider: 'deepgram', metadata: {} });
    events.emit('provider_error', {
      sessionId: 's2',
      provider: 'deepgram',
      code: 'unauthorized',
      fatal: true,
    });
    events.emit('session_ended', {
      sessionId: 's2',
      provider: 'deepgram',
      reason: 'error',
      status: 'failed',
      metrics: figures({ errors: 1, finalSegments: 0, firstTranscriptMs: undefined }),
    });

    const deepgram = { provider: 'deepgram' };
    expect(
      await read(registry, 'earshot_provider_errors_total', {
        ...deepgram,
        code: 'provider_error',
        fatal: 'false',
      }),
    ).toBe(1);
    expect(
      await read(registry, 'earshot_provider_errors_total', {
        ...deepgram,
        code: 'unauthorized',
        fatal: 'true',
      }),
    ).toBe(1);
    expect(await read(registry, 'earshot_client_resumes_total', deepgram)).toBe(1);
    expect(await read(registry, 'earshot_provider_reconnects_total', deepgram)).toBe(2);
    expect(await read(registry, 'earshot_replayed_audio_seconds_total', deepgram)).toBe(1.5);
    expect(await read(registry, 'earshot_session_errors_total', deepgram)).toBe(2);
    expect(
      await read(registry, 'earshot_sessions_ended_total', {
        ...deepgram,
        status: 'failed',
        reason: 'error',
      }),
    ).toBe(1);
    // The failed session had no transcript: one time-to-first-transcript observation, not two.
    expect(await read(registry, 'earshot_time_to_first_transcript_seconds_count', deepgram)).toBe(
      1,
    );
  });

  it('counts a session that failed while starting as ended, without live sessions going below zero', async () => {
    const events = new ServerEvents();
    const { registry } = prometheus(events);
    events.emit('store_operation', { operation: 'createSession', ms: 5001, ok: false });
    events.emit('session_ended', {
      sessionId: 's1',
      provider: 'local',
      reason: 'error',
      status: 'failed',
      metrics: figures({ audioSeconds: 0, firstTranscriptMs: undefined, durationSeconds: 5.1 }),
    });
    expect(await read(registry, 'earshot_live_sessions')).toBe(0);
    expect(await read(registry, 'earshot_sessions_started_total')).toBe(0);
    expect(await read(registry, 'earshot_sessions_ended_total', { status: 'failed' })).toBe(1);
    expect(await read(registry, 'earshot_store_errors_total', { operation: 'createSession' })).toBe(
      1,
    );
    expect(
      await read(registry, 'earshot_store_operation_duration_seconds_bucket', {
        operation: 'createSession',
        ok: 'false',
        le: '5',
      }),
    ).toBe(0);
  });

  it("reads live sessions from the app's count when it gives one", async () => {
    const events = new ServerEvents();
    let live = 3;
    const { registry } = prometheus(events, { liveSessions: () => live });
    expect(await read(registry, 'earshot_live_sessions')).toBe(3);
    live = 1;
    expect(await read(registry, 'earshot_live_sessions')).toBe(1);
  });

  it('gives each server a registry of its own, never the global one, so two in a process do not clash', async () => {
    const a = new ServerEvents();
    const b = new ServerEvents();
    const first = prometheus(a);
    const second = prometheus(b);
    a.emit('session_started', { sessionId: 's1', provider: 'local', metadata: {} });
    expect(first.registry).not.toBe(second.registry);
    expect(first.registry).not.toBe(globalRegistry);
    expect(await read(first.registry, 'earshot_sessions_started_total')).toBe(1);
    expect(await read(second.registry, 'earshot_sessions_started_total')).toBe(0);
    expect(await globalRegistry.getMetricsAsJSON()).toEqual([]);
  });

  it("registers in the app's registry under its prefix, beside the app's metrics, and leaves on close", async () => {
    const registry = new Registry();
    const appRequests = new Counter({
      name: 'app_requests_total',
      help: 'x',
      registers: [registry],
    });
    appRequests.inc();
    const events = new ServerEvents();
    const metrics = prometheus(events, { registry, prefix: 'stt_' });
    events.emit('session_started', { sessionId: 's1', provider: 'local', metadata: {} });
    expect(metrics.registry).toBe(registry);
    expect(await read(registry, 'stt_sessions_started_total')).toBe(1);
    expect(await read(registry, 'earshot_sessions_started_total')).toBeUndefined();
    // A second server in the same registry needs a prefix of its own.
    expect(() => createPrometheusMetrics(new ServerEvents(), { registry, prefix: 'stt_' })).toThrow(
      /already been registered/,
    );
    metrics.close();
    expect((await registry.getMetricsAsJSON()).map((m) => m.name)).toEqual(['app_requests_total']);
  });

  it("leaves the app's registry as it was when one of its names is taken", async () => {
    const registry = new Registry();
    new Counter({
      name: 'earshot_store_errors_total',
      help: 'the app got there first',
      registers: [registry],
    });
    expect(() => createPrometheusMetrics(new ServerEvents(), { registry })).toThrow(
      /earshot_store_errors_total.*already been registered/,
    );
    expect(registry.getMetricsAsArray().map((m) => m.name)).toEqual(['earshot_store_errors_total']);
  });

  it('adds the Node process metrics only when asked', async () => {
    const without = prometheus(new ServerEvents());
    const names = async (r: AnyRegistry) => (await r.getMetricsAsJSON()).map((m) => m.name);
    expect(await names(without.registry)).not.toContain('earshot_process_cpu_seconds_total');
    const withDefaults = prometheus(new ServerEvents(), { defaultMetrics: true });
    expect(await names(withDefaults.registry)).toEqual(
      expect.arrayContaining([
        'earshot_process_cpu_seconds_total',
        'earshot_nodejs_heap_size_used_bytes',
      ]),
    );
  });

  it('leaves no timer or handle behind, Node process metrics included', async () => {
    const before = countResources();
    const metrics = createPrometheusMetrics(new ServerEvents(), { defaultMetrics: true });
    await metrics.render();
    metrics.close();
    expect(await leftoverResources(before)).toEqual([]);
  });

  it('stops counting once closed', async () => {
    const events = new ServerEvents();
    const metrics = prometheus(events);
    metrics.close();
    metrics.close();
    expect(events.listenerCount('session_started')).toBe(0);
    expect(events.listenerCount('store_operation')).toBe(0);
    expect(await metrics.registry.getMetricsAsJSON()).toEqual([]);
  });

  it('logs a value it cannot record instead of throwing into the session, and goes on counting', async () => {
    const warnings: unknown[] = [];
    const ignore = () => {};
    const logger: Logger = {
      debug: ignore,
      info: ignore,
      warn: (obj) => warnings.push(obj),
      error: ignore,
    };
    const events = new ServerEvents();
    const { registry } = prometheus(events, { logger });
    expect(() =>
      events.emit('store_operation', { operation: 'getSession', ms: Number.NaN, ok: true }),
    ).not.toThrow();
    expect(warnings).toEqual([expect.objectContaining({ event: 'store_operation' })]);
    events.emit('store_operation', { operation: 'getSession', ms: 2, ok: true });
    expect(await read(registry, 'earshot_store_operation_duration_seconds_count')).toBe(1);
  });

  it("serves Prometheus' text format under the registry's content type, with every metric typed", async () => {
    const events = new ServerEvents();
    const metrics = prometheus(events);
    events.emit('session_started', { sessionId: 's1', provider: 'local', metadata: {} });
    expect(metrics.contentType).toBe(metrics.registry.contentType);
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const types = new Map<string, string>();
    for (const line of (await metrics.render()).split('\n')) {
      const [, name, type] = /^# TYPE (\S+) (\S+)$/.exec(line) ?? [];
      if (name && type) types.set(name, type);
    }
    expect(Object.fromEntries(types)).toEqual({
      earshot_live_sessions: 'gauge',
      earshot_sessions_started_total: 'counter',
      earshot_sessions_ended_total: 'counter',
      earshot_session_duration_seconds: 'histogram',
      earshot_audio_seconds_total: 'counter',
      earshot_audio_bytes_total: 'counter',
      earshot_audio_chunks_total: 'counter',
      earshot_final_segments_total: 'counter',
      earshot_interim_segments_total: 'counter',
      earshot_time_to_first_transcript_seconds: 'histogram',
      earshot_provider_latency_seconds: 'histogram',
      earshot_provider_errors_total: 'counter',
      earshot_session_errors_total: 'counter',
      earshot_client_resumes_total: 'counter',
      earshot_provider_reconnects_total: 'counter',
      earshot_replayed_audio_seconds_total: 'counter',
      earshot_store_operation_duration_seconds: 'histogram',
      earshot_store_errors_total: 'counter',
    });
  });
});
