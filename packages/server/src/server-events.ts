import type { Metadata, ServerMessageInput } from '@earshot/protocol';
import { EventEmitter } from 'eventemitter3';
import type { SessionMetrics } from './session/session-metrics.js';

/**
 * What a server reports as it works, for observers (`GET /v1/sessions/:id/events`), metrics
 * (Prometheus, OpenTelemetry) and the app itself (`earshot.events`). Listeners run
 * synchronously on the session's path: keep them quick, and never throw from them.
 */
export interface ServerEventMap {
  /** A session started streaming (`ready` sent). */
  session_started: [event: { sessionId: string; provider: string; metadata: Metadata }];
  /** A message went to a session's client (or was kept for it while it was away). */
  session_message: [event: { sessionId: string; message: ServerMessageInput }];
  /**
   * A final came from the provider; `latencyMs` is from the end of its audio reaching the
   * server to the final, when known.
   */
  final_transcript: [event: { sessionId: string; provider: string; latencyMs?: number }];
  /** The provider reported an error (fatal or not). */
  provider_error: [event: { sessionId: string; provider: string; code: string; fatal: boolean }];
  /**
   * A session left this node for another one, where its client resumed (see `cluster`): it
   * goes on there, and its `session_ended` comes from that node, with the whole session's figures.
   */
  session_handed_over: [event: { sessionId: string; provider?: string }];
  /** A session ended; its figures are final. */
  session_ended: [
    event: {
      sessionId: string;
      provider?: string;
      reason: string;
      status: 'ended' | 'failed';
      metrics: SessionMetrics;
    },
  ];
  /** A store operation finished (or failed) after `ms`. */
  store_operation: [event: { operation: string; ms: number; ok: boolean }];
}

/** The server's event emitter (see {@link ServerEventMap}). */
export class ServerEvents extends EventEmitter<ServerEventMap> {}
