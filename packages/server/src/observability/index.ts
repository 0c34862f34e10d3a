export { INSTRUMENTATION_SCOPE } from './instrumentation-scope.js';
export { METRIC_BUCKETS } from './metric-buckets.js';
export {
  createOpenTelemetryInstrumentation,
  type OpenTelemetryInstrumentation,
  type OpenTelemetryOptions,
  SESSION_SPAN_NAME,
} from './opentelemetry.js';
export {
  createPrometheusMetrics,
  type PrometheusMetrics,
  type PrometheusMetricsOptions,
} from './prometheus-metrics.js';
