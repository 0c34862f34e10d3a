import type { LatencyFigures, SessionMetrics } from '@earshot/protocol';
import { ArrivalTimeline } from './arrival-timeline.js';

export type { LatencyFigures, SessionMetrics };

/** What the provider's resilient layer reports, when the stream has one. */
export interface ProviderStreamFigures {
  readonly reconnects: number;
  readonly replayedSeconds: number;
}

// Provider latencies kept per session (the latest), for its p50/p95.
const LATENCY_SAMPLES = 1000;

/** A tracker's raw figures, carried to another node with a handed-over session. */
export interface MetricsCarryOver {
  readonly createdAt: number;
  readonly chunks: number;
  readonly bytes: number;
  readonly finals: number;
  readonly interims: number;
  readonly resumes: number;
  readonly errors: number;
  readonly firstTranscriptMs?: number;
  readonly latencies: readonly number[];
  readonly providerReconnects: number;
  readonly replayedSeconds: number;
}

/**
 * Counts one session's figures as they happen. Provider latency is timed from the moment the
 * audio up to a final's `end` had reached the server to the moment the final came back: what
 * a user waits after they stop speaking, less the network to the server.
 */
export class SessionMetricsTracker {
  private chunks = 0;
  private bytes = 0;
  private finals = 0;
  private interims = 0;
  private resumes = 0;
  private errors = 0;
  private firstAudioAt: number | undefined;
  private firstTranscriptMs: number | undefined;
  private readonly latencies: number[] = [];
  // When each point of the audio arrived, to time finals against.
  private readonly arrivals = new ArrivalTimeline();
  // What the provider streams of earlier nodes reported, after a handover.
  private providerBase = { reconnects: 0, replayedSeconds: 0 };

  constructor(
    private createdAt: number,
    private readonly audioSeconds: () => number,
    private readonly providerFigures: () => ProviderStreamFigures | undefined,
  ) {}

  /** A binary audio frame arrived (after it was counted into the session clock). */
  audio(bytes: number, now = Date.now()): void {
    this.chunks++;
    this.bytes += bytes;
    this.firstAudioAt ??= now;
    this.arrivals.record(this.audioSeconds(), now);
  }

  /** A transcript came from the provider; `end` is where its audio ends, in session seconds. */
  transcript(isFinal: boolean, end: number, now = Date.now()): number | undefined {
    if (this.firstTranscriptMs === undefined && this.firstAudioAt !== undefined) {
      this.firstTranscriptMs = now - this.firstAudioAt;
    }
    if (!isFinal) {
      this.interims++;
      return undefined;
    }
    this.finals++;
    // When the audio up to `end` had all arrived.
    const arrivedAt = this.arrivals.arrivedAt(end, true);
    if (arrivedAt === undefined) return undefined;
    const latency = Math.max(0, now - arrivedAt);
    this.latencies.push(latency);
    // The latest finals' latencies: a session's memory must not grow with its length.
    if (this.latencies.length > LATENCY_SAMPLES) this.latencies.shift();
    return latency;
  }

  /** A provider stream of this session closed (its client went away); its figures are kept. */
  providerStreamDone(figures: ProviderStreamFigures): void {
    this.providerBase = {
      reconnects: this.providerBase.reconnects + figures.reconnects,
      replayedSeconds: this.providerBase.replayedSeconds + figures.replayedSeconds,
    };
  }

  /** The client reconnected and resumed the session. */
  resumed(): void {
    this.resumes++;
  }

  /** An error was reported to the client. */
  error(): void {
    this.errors++;
  }

  /** The raw figures, for the node a session is handed over to. */
  carried(): MetricsCarryOver {
    const provider = this.providerFigures();
    return {
      createdAt: this.createdAt,
      chunks: this.chunks,
      bytes: this.bytes,
      finals: this.finals,
      interims: this.interims,
      resumes: this.resumes,
      errors: this.errors,
      firstTranscriptMs: this.firstTranscriptMs,
      latencies: [...this.latencies],
      providerReconnects: this.providerBase.reconnects + (provider?.reconnects ?? 0),
      replayedSeconds: this.providerBase.replayedSeconds + (provider?.replayedSeconds ?? 0),
    };
  }

  /** Goes on from the figures another node counted (a handed-over session). */
  carryOver(from: MetricsCarryOver): void {
    this.createdAt = from.createdAt;
    this.chunks = from.chunks;
    this.bytes = from.bytes;
    this.finals = from.finals;
    this.interims = from.interims;
    this.resumes = from.resumes;
    this.errors = from.errors;
    this.firstTranscriptMs = from.firstTranscriptMs;
    this.firstAudioAt ??= from.createdAt;
    this.latencies.push(...from.latencies);
    this.providerBase = {
      reconnects: from.providerReconnects,
      replayedSeconds: from.replayedSeconds,
    };
  }

  /** The figures now. */
  snapshot(now = Date.now()): SessionMetrics {
    const provider = this.providerFigures();
    return {
      chunksReceived: this.chunks,
      bytesReceived: this.bytes,
      audioSeconds: this.audioSeconds(),
      finalSegments: this.finals,
      interimSegments: this.interims,
      firstTranscriptMs: this.firstTranscriptMs,
      providerLatencyMs: latencyFigures(this.latencies),
      resumes: this.resumes,
      providerReconnects: this.providerBase.reconnects + (provider?.reconnects ?? 0),
      replayedAudioSeconds: this.providerBase.replayedSeconds + (provider?.replayedSeconds ?? 0),
      errors: this.errors,
      durationSeconds: (now - this.createdAt) / 1000,
    };
  }
}

/** Count, mean, median, 95th percentile and max of `samples`; none when there are none. */
export function latencyFigures(samples: readonly number[]): LatencyFigures | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    count: sorted.length,
    mean: round(sorted.reduce((sum, v) => sum + v, 0) / sorted.length),
    p50: at(0.5),
    p95: at(0.95),
    max: sorted[sorted.length - 1]!,
  };
}
