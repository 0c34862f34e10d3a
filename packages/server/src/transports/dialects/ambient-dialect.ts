import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { EarshotError, type Metadata, type ServerMessageInput } from '@earshot/protocol';
import type { WebSocket } from 'ws';
import { readJsonBody, refuseUpgrade, sendJson } from '../../rest/http-json.js';
import type { UpgradeAcceptor } from '../../security/connection-guard.js';
import { Heartbeat } from '../../security/heartbeat.js';
import type { Session } from '../../session/session.js';
import type { Dialect, DialectEndpoint, DialectHost } from './dialect.js';
import {
  asRecord,
  DIALECT_ID,
  DialectSocket,
  type DialectStreamOptions,
  decodeUriPart,
  describeJson,
  startTransportSession,
} from './dialect-socket.js';

/** Options of {@link ambientDialect}; each has the seed's environment variable beside it. */
export interface AmbientDialectOptions {
  /** The WebSocket path; `<path>/{session_id}` names the session. Default `/ws/transcribe`. */
  readonly path?: string;
  /** Prefix of the REST paths. Default `/api/v1/websocket`. */
  readonly restPrefix?: string;
  /** `WEBSOCKET_MAX_CONNECTIONS`: connections at once; more are refused with HTTP 503. Default 100. */
  readonly maxConnections?: number;
  /** `WEBSOCKET_HEARTBEAT_INTERVAL`: seconds between WebSocket pings; a peer that misses two is dropped. Default 30. */
  readonly heartbeatIntervalSeconds?: number;
  /** `WEBSOCKET_MAX_SESSION_DURATION`: seconds a session may last; then it ends (`session_ended`, reason `timeout`). Default 7200. */
  readonly maxSessionSeconds?: number;
  /** `WEBSOCKET_SAMPLE_RATE`: the rate of the binary PCM16 audio. Default 16000. */
  readonly sampleRate?: number;
  /** `WEBSOCKET_CHANNELS`: its channels. Default 1. */
  readonly channels?: number;
  /**
   * `WEBSOCKET_CHUNK_DURATION`: seconds of speech after which a transcript is due. The seed
   * transcribed fixed chunks; Earshot sends a transcript at each pause, and with this set also
   * cuts an utterance that has run this long without one. Unset (default): only pauses cut.
   */
  readonly chunkDurationSeconds?: number;
  /** `WEBSOCKET_OVERLAP_DURATION`: reported in `connected.config`. A cut loses no audio in a stream, so no overlap is needed. Default 0.5. */
  readonly overlapDurationSeconds?: number;
  /** `WEBSOCKET_CHUNK_TIMEOUT`: seconds to wait for the last transcript after `end_session`. Default 10. */
  readonly chunkTimeoutSeconds?: number;
  /** `WEBSOCKET_AUDIO_BUFFER_SIZE`: reported in `connected.config` (the frontend's worklet buffer). Default 8192. */
  readonly audioBufferSize?: number;
  /**
   * `WEBSOCKET_WHISPER_MODEL`: reported in `connected.config`. A Whisper size (`base`) names no
   * model of another provider, so it is not passed on; pick a model with `stream.providerOptions`.
   */
  readonly whisperModel?: string;
  /** Recognition options of every session (language, provider, keywords…). */
  readonly stream?: DialectStreamOptions;
}

/** Reads {@link AmbientDialectOptions} from the seed's environment variables (`WEBSOCKET_*`). */
export function ambientOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): AmbientDialectOptions {
  const number = (name: string) => {
    const value = env[name];
    if (value === undefined || value.trim() === '') return undefined;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < 0) {
      throw new EarshotError(
        'invalid_request',
        `${name} must be a non-negative number, not "${value}"`,
      );
    }
    return parsed;
  };
  return {
    maxConnections: number('WEBSOCKET_MAX_CONNECTIONS'),
    heartbeatIntervalSeconds: number('WEBSOCKET_HEARTBEAT_INTERVAL'),
    chunkTimeoutSeconds: number('WEBSOCKET_CHUNK_TIMEOUT'),
    maxSessionSeconds: number('WEBSOCKET_MAX_SESSION_DURATION'),
    audioBufferSize: number('WEBSOCKET_AUDIO_BUFFER_SIZE'),
    sampleRate: number('WEBSOCKET_SAMPLE_RATE'),
    channels: number('WEBSOCKET_CHANNELS'),
    chunkDurationSeconds: number('WEBSOCKET_CHUNK_DURATION'),
    overlapDurationSeconds: number('WEBSOCKET_OVERLAP_DURATION'),
    whisperModel: env.WEBSOCKET_WHISPER_MODEL || undefined,
  };
}

/**
 * Seed 001's dialect (AmbientAI's FastAPI relay): `/ws/transcribe` (a new session id) and
 * `/ws/transcribe/{session_id}`; binary PCM16 (16 kHz mono unless configured); `ping`,
 * `session_info`, `end_session`; back come `connected` (session id and config), `transcript`
 * (text, confidence) for each final, `pong`, `session_info`, `session_ended`, `error`. Its REST
 * paths: `GET /api/v1/websocket/sessions`, `POST /api/v1/websocket/sessions/{id}/end`,
 * `POST /api/v1/websocket/broadcast` (guarded by the server's `adminAuth`).
 */
export function ambientDialect(options: AmbientDialectOptions = {}): Dialect {
  const path = (options.path ?? '/ws/transcribe').replace(/\/$/, '');
  const rest = (options.restPrefix ?? '/api/v1/websocket').replace(/\/$/, '');
  const maxConnections = options.maxConnections ?? 100;
  return {
    name: 'ambient',
    mount(host: DialectHost): DialectEndpoint {
      const connections = new Map<string, AmbientConnection>();
      // The seed's own heartbeat interval, beside the server's.
      const heartbeatSeconds = options.heartbeatIntervalSeconds ?? 30;
      const heartbeat =
        heartbeatSeconds > 0 ? new Heartbeat(heartbeatSeconds, host.logger) : undefined;
      return {
        ownsPath: (pathname) => pathname === path || pathname.startsWith(`${path}/`),
        close: () => heartbeat?.close(),
        handleUpgrade(wss: UpgradeAcceptor, req: IncomingMessage, socket: Duplex, head: Buffer) {
          const url = new URL(req.url ?? '/', 'http://localhost');
          const custom =
            url.pathname === path
              ? undefined
              : (decodeUriPart(url.pathname.slice(path.length + 1)) ?? '');
          if (custom !== undefined && !DIALECT_ID.test(custom)) {
            refuseUpgrade(socket, new EarshotError('invalid_request', 'invalid session id'));
            return;
          }
          if (connections.size >= maxConnections) {
            refuseUpgrade(
              socket,
              new EarshotError('capacity', `at most ${maxConnections} connections`),
            );
            return;
          }
          const claim =
            custom === undefined ? Promise.resolve('free' as const) : host.claimSessionId(custom);
          claim.then(
            (claimed) => {
              if (claimed === 'taken') {
                refuseUpgrade(
                  socket,
                  new EarshotError('session_ended', `session "${custom}" is in use or over`),
                );
                return;
              }
              wss.handleUpgrade(req, socket, head, (ws) => {
                heartbeat?.watch(ws);
                const connection = new AmbientConnection(ws, host, options, {
                  id: custom,
                  minted: typeof claimed === 'object' ? claimed.minted : undefined,
                  gone: () => connections.delete(connection.session.id),
                  request: req,
                });
                connections.set(connection.session.id, connection);
              });
            },
            (error: unknown) => {
              host.logger.error({ err: error }, 'ambient: could not check a session id');
              refuseUpgrade(socket, new EarshotError('store_error', 'could not admit the session'));
            },
          );
        },
        async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
          const url = new URL(req.url ?? '/', 'http://localhost');
          if (!url.pathname.startsWith(`${rest}/`)) return false;
          const route = url.pathname.slice(rest.length);
          const end = /^\/sessions\/([^/]+)\/end$/.exec(route);
          if (route !== '/sessions' && route !== '/broadcast' && !end) return false;
          if (!(await host.adminAllowed(req))) {
            sendJson(res, 401, { detail: 'Not authenticated' });
            return true;
          }
          const method = route === '/sessions' ? 'GET' : 'POST';
          if (req.method !== method) {
            res.setHeader('allow', method);
            sendJson(res, 405, { detail: 'Method Not Allowed' });
            return true;
          }
          if (route === '/sessions') {
            sendJson(res, 200, {
              active_sessions: connections.size,
              max_connections: maxConnections,
              sessions: [...connections.values()].map((c) => c.summary()),
            });
          } else if (end) {
            const connection = connections.get(decodeUriPart(end[1] ?? '') ?? '');
            if (!connection) {
              sendJson(res, 404, { detail: 'Session not found' });
              return true;
            }
            await connection.end();
            sendJson(res, 200, {
              success: true,
              session_id: connection.session.id,
              message: 'Session ended',
            });
          } else {
            await broadcast(req, res, connections);
          }
          return true;
        },
      };
    },
  };
}

/** `POST …/broadcast`: the JSON body goes as it is to every connection. */
async function broadcast(
  req: IncomingMessage,
  res: ServerResponse,
  connections: ReadonlyMap<string, AmbientConnection>,
): Promise<void> {
  let body: unknown;
  try {
    body = await readJsonBody(req);
  } catch (error) {
    sendJson(res, 422, { detail: EarshotError.from(error).message });
    return;
  }
  const message = asRecord(body);
  if (!message || typeof message.type !== 'string') {
    sendJson(res, 422, { detail: 'body must be a JSON object with a string "type"' });
    return;
  }
  for (const connection of connections.values()) connection.session.broadcast(message);
  sendJson(res, 200, { success: true, sent_to: connections.size });
}

/** One `/ws/transcribe` connection. */
class AmbientConnection {
  readonly session: Session;
  private readonly wire: DialectSocket;
  private readonly connectedAt = new Date();
  private chunks = 0;
  private transcriptChars = 0;
  private finals = 0;
  /** Session seconds at the last final (or the start): how long the current utterance has run. */
  private lastFinalAt = 0;

  constructor(
    ws: WebSocket,
    host: DialectHost,
    private readonly options: AmbientDialectOptions,
    own: { id?: string; minted?: Metadata; gone: () => void; request: IncomingMessage },
  ) {
    this.wire = new DialectSocket(ws, (message) => this.translate(message), host.outbound);
    this.session = host.openSession({
      id: own.id,
      peer: this.wire.peer,
      metadata: own.minted ?? {},
      preCreated: own.minted !== undefined,
      request: own.request,
      limits: {
        maxSessionSeconds: options.maxSessionSeconds ?? 7200,
        stopTimeoutSeconds: options.chunkTimeoutSeconds ?? 10,
      },
    });
    this.wire.send({
      type: 'connected',
      session_id: this.session.id,
      message: 'Connected to real-time transcription',
      config: this.config(),
      timestamp: this.connectedAt.toISOString(),
    });
    startTransportSession(
      this.session,
      {
        encoding: 'pcm16',
        sampleRate: options.sampleRate ?? 16000,
        channels: options.channels ?? 1,
      },
      options.stream,
      host.logger,
    );
    this.wire.listen({
      json: (value) => this.control(value),
      binary: (bytes) => {
        this.chunks++;
        this.session.audio(bytes);
        this.cutLongUtterance();
      },
      invalid: (error) =>
        this.wire.send({
          type: 'error',
          message: error.code === 'invalid_json' ? 'Invalid JSON message' : error.message,
        }),
      gone: () => {
        own.gone();
        this.session.peerGone(this.wire.peer);
      },
    });
  }

  /** What `GET /sessions` lists for this connection. */
  summary() {
    return {
      session_id: this.session.id,
      connected_at: this.connectedAt.toISOString(),
      total_chunks: this.chunks,
      transcript_length: this.transcriptChars,
    };
  }

  /** Ends the session (REST): its last transcripts, `session_ended`, then close 1000. */
  end(): Promise<void> {
    return this.session.end('ended');
  }

  private translate(message: ServerMessageInput): unknown {
    switch (message.type) {
      case 'transcript': {
        if (!message.isFinal || message.text.trim() === '') return undefined;
        this.transcriptChars += message.text.length + (this.finals > 0 ? 1 : 0);
        this.lastFinalAt = message.end ?? this.session.audioSeconds;
        return {
          type: 'transcript',
          session_id: this.session.id,
          chunk_index: this.finals++,
          text: message.text,
          confidence: message.confidence ?? null,
          start_time: message.start,
          end_time: message.end,
          is_final: true,
          timestamp: new Date().toISOString(),
        };
      }
      case 'pong':
        return { type: 'pong', timestamp: new Date().toISOString() };
      case 'session_info':
        return {
          type: 'session_info',
          ...this.summary(),
          status: message.status,
          audio_duration: message.audioSeconds,
          duration_seconds: Math.round((Date.now() - this.connectedAt.getTime()) / 1000),
          config: this.config(),
        };
      case 'broadcast':
        return message.payload;
      case 'error':
        return { type: 'error', message: message.message, code: message.code };
      case 'closed':
        return {
          type: 'session_ended',
          session_id: this.session.id,
          reason: message.reason,
          total_chunks: this.chunks,
          transcript_length: this.transcriptChars,
          audio_duration: message.summary.audioSeconds,
        };
      default:
        return undefined;
    }
  }

  private control(value: unknown): void {
    const type = asRecord(value)?.type;
    switch (type) {
      case 'ping':
        this.session.ping();
        return;
      case 'session_info':
        this.session.sendInfo();
        return;
      case 'end_session':
        void this.session.stop();
        return;
      default:
        this.wire.send({
          type: 'error',
          message: `Unknown message type: ${typeof type === 'string' ? type : describeJson(type ?? null)}`,
        });
    }
  }

  /** With `chunkDurationSeconds`, an utterance running that long without a final is cut. */
  private cutLongUtterance(): void {
    const limit = this.options.chunkDurationSeconds;
    if (!limit || this.session.audioSeconds - this.lastFinalAt < limit) return;
    this.lastFinalAt = this.session.audioSeconds;
    this.session.finalize();
  }

  private config() {
    const o = this.options;
    return {
      sample_rate: o.sampleRate ?? 16000,
      channels: o.channels ?? 1,
      chunk_duration: o.chunkDurationSeconds ?? null,
      overlap_duration: o.overlapDurationSeconds ?? 0.5,
      chunk_timeout: o.chunkTimeoutSeconds ?? 10,
      max_session_duration: o.maxSessionSeconds ?? 7200,
      heartbeat_interval: o.heartbeatIntervalSeconds ?? 30,
      audio_buffer_size: o.audioBufferSize ?? 8192,
      whisper_model: o.whisperModel ?? null,
    };
  }
}
