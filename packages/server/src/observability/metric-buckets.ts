/**
 * Histogram bucket upper bounds, in seconds, shared by the Prometheus metrics and the
 * OpenTelemetry instruments so both report the same distribution.
 */
export const METRIC_BUCKETS = {
  /**
   * From the end of an utterance's audio reaching the server to its final: streaming engines
   * answer in tens to hundreds of milliseconds, batch-style ones and slow networks in seconds.
   */
  providerLatency: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
  /** From a session's first audio frame to its first transcript, interim or final. */
  timeToFirstTranscript: [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30],
  /** A session's wall-clock length: from a few seconds (a command) to hours (a meeting). */
  sessionDuration: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400],
  /** One store operation: sub-millisecond in memory, milliseconds to seconds over a network. */
  storeOperation: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
} as const satisfies Record<string, readonly number[]>;
