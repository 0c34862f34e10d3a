export type { ClusterOptions } from './cluster/cluster-session-control.js';
export type {
  BroadcastTarget,
  LiveSession,
  SessionControl,
  SessionObserver,
} from './control/session-control.js';
export {
  createEarshotServer,
  type EarshotServer,
  type EarshotServerOptions,
} from './earshot-server.js';
export {
  createOpenTelemetryInstrumentation,
  createPrometheusMetrics,
  INSTRUMENTATION_SCOPE,
  METRIC_BUCKETS,
  type OpenTelemetryInstrumentation,
  type OpenTelemetryOptions,
  type PrometheusMetrics,
  type PrometheusMetricsOptions,
  SESSION_SPAN_NAME,
} from './observability/index.js';
export * from './replies/index.js';
export type { AdminAuth } from './rest/admin-auth.js';
export { type Json, restOpenApiDocument } from './rest/rest-openapi.js';
export {
  type Authenticate,
  anyOf,
  apiKeyAuth,
  type JwtAuthOptions,
  jwtAuth,
  originAllowed,
  type Principal,
  presentedCredential,
} from './security/authentication.js';
export {
  type ConnectionLimitOptions,
  DEFAULT_CONNECTION_LIMITS,
  type UpgradeAcceptor,
} from './security/connection-guard.js';
export { DEFAULT_OUTBOUND_LIMITS, type OutboundLimits } from './security/outbound-gate.js';
export { type ServerEventMap, ServerEvents } from './server-events.js';
export type { CommandContext, CommandOptions } from './session/command-runner.js';
export type { Session, SessionDeps, SessionEndReason } from './session/session.js';
export type {
  EndedSession,
  SessionEndHandler,
  SessionEndHook,
  SessionEndHookOutcome,
} from './session/session-end-hook.js';
export type { HandoverState } from './session/session-handover.js';
export { DEFAULT_SESSION_LIMITS, type SessionLimitOptions } from './session/session-limits.js';
export type {
  LatencyFigures,
  MetricsCarryOver,
  SessionMetrics,
} from './session/session-metrics.js';
export type { SessionPeer } from './session/session-peer.js';
export { type EncryptedStore, encryptStore } from './stores/encrypted-store.js';
export type { EncryptionKey, EncryptionOptions } from './stores/encryption-keys.js';
export { createMemoryStore } from './stores/memory-store.js';
export { createPostgresStore, type PostgresStoreOptions } from './stores/postgres-store.js';
export type { ReencryptOptions, ReencryptProgress, ReencryptResult } from './stores/reencrypt.js';
export {
  type RetentionOptions,
  RetentionSweeper,
  type RetentionSweeperDeps,
} from './stores/retention-sweeper.js';
export { createSqliteStore, type SqliteStoreOptions } from './stores/sqlite-store.js';
export type {
  ContentReplacement,
  DeleteSessionsOptions,
  SessionPage,
  SessionQuery,
  SessionRecord,
  Store,
  StoredEvent,
  StoredEventType,
  StoredSegment,
} from './stores/store.js';
export {
  DEFAULT_DELETE_BATCH,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  STORED_EVENT_TYPES,
} from './stores/store.js';
export { createStoreFromUrl } from './stores/store-from-url.js';
export {
  type StoreWrite,
  StoreWriter,
  type StoreWriterOptions,
  type WriteOutcome,
} from './stores/store-writer.js';
export type { SessionTokens, TokenClaims, TokenPurpose } from './tokens/session-tokens.js';
export * from './transports/dialects/index.js';
export type { PlayAudio } from './transports/twilio/phone-audio.js';
export type { TwilioCall, TwilioCallStats } from './transports/twilio/twilio-call.js';
export type { TwilioCalls, TwilioOptions } from './transports/twilio/twilio-endpoint.js';
export type { PlayOutcome } from './transports/twilio/twilio-player.js';
export { twilioSignature } from './transports/twilio/twilio-signature.js';
