export { ContainerSessionAudio } from './container-session-audio.js';
export {
  createResilientProvider,
  isResilientStream,
  type ResilientProvider,
  type ResilientProviderOptions,
} from './resilient-provider.js';
export {
  type ProviderSlot,
  type ResilienceSettings,
  ResilientStream,
  type ResilientStreamStats,
} from './resilient-stream.js';
export { RetryPolicy, type RetryPolicyOptions } from './retry-policy.js';
export type { Replay, SessionAudio } from './session-audio.js';
export { WarmPool, type WarmPoolOptions } from './warm-pool.js';
