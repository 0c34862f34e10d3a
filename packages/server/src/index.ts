export {
  createEarshotServer,
  type EarshotServer,
  type EarshotServerOptions,
} from './earshot-server.js';
export type { CommandContext, CommandOptions } from './session/command-runner.js';
export type { Session, SessionDeps, SessionEndReason } from './session/session.js';
export { DEFAULT_SESSION_LIMITS, type SessionLimitOptions } from './session/session-limits.js';
export type { SessionPeer } from './session/session-peer.js';
export { createMemoryStore } from './stores/memory-store.js';
export { createSqliteStore, type SqliteStoreOptions } from './stores/sqlite-store.js';
export type { SessionQuery, SessionRecord, Store, StoredSegment } from './stores/store.js';
export type { SessionTokens, TokenClaims, TokenPurpose } from './tokens/session-tokens.js';
