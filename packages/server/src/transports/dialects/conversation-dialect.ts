import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type AudioFormat,
  EarshotError,
  PCM16_16K_MONO,
  type ServerMessageInput,
} from '@earshot/protocol';
import type { WebSocket } from 'ws';
import { refuseUpgrade } from '../../rest/http-json.js';
import type { UpgradeAcceptor } from '../../security/connection-guard.js';
import type { Session } from '../../session/session.js';
import {
  type ConversationAdmission,
  ConversationGate,
  type ConversationResolver,
} from './conversation-admission.js';
import type { Dialect, DialectEndpoint, DialectHost } from './dialect.js';
import {
  asRecord,
  DIALECT_ID,
  DialectSocket,
  type DialectStreamOptions,
  startTransportSession,
} from './dialect-socket.js';
import { sniffAudioFormat } from './sniff-audio.js';
import { TranscriptDeltas } from './transcript-deltas.js';

/** Options of {@link conversationDialect}. */
export interface ConversationDialectOptions {
  /** The WebSocket path; the conversation is named by `?conversationId=`. Default `/transcription`. */
  readonly path?: string;
  /** Recognition options of every session (language, provider, keywords…). Interim results are on unless this turns them off. */
  readonly stream?: DialectStreamOptions;
  /**
   * The format of audio whose first frame says nothing about itself (WebM, Ogg and WAV are
   * recognised by their first bytes): frontends that capture with an AudioWorklet send raw
   * PCM. Default PCM16 16 kHz mono.
   */
  readonly defaultAudio?: AudioFormat;
  /**
   * Vouches for a conversation id that `POST /v1/sessions` did not mint (the app created the
   * conversation over its own REST). Default: any well-formed id is accepted.
   */
  readonly resolveConversation?: ConversationResolver;
}

// The seed's frontend says `stop`; the others are what such frontends are often written with.
const STOP_TYPES: ReadonlySet<unknown> = new Set(['stop', 'end', 'end_session', 'close']);

// OpenAI Realtime transcription's event names: the seed's backend forwarded OpenAI's events, so
// its frontend was written against them.
const DELTA = 'conversation.item.input_audio_transcription.delta';
const COMPLETED = 'conversation.item.input_audio_transcription.completed';
const SPEECH_STARTED = 'input_audio_buffer.speech_started';
const SPEECH_STOPPED = 'input_audio_buffer.speech_stopped';

/**
 * Seed 000's dialect (a clinical scribe's `TranscriptionService`, once a relay to OpenAI's
 * Realtime API): `/transcription?conversationId=<id>`, binary audio as `MediaRecorder` records
 * it (WebM/Opus chunks; raw PCM16 from an AudioWorklet works too), `{"type":"stop"}` and
 * `{"type":"ping"}`. Back come OpenAI's transcription events, each with its `conversationId`:
 * `conversation.item.input_audio_transcription.delta` (the text an interim appends),
 * `….completed` (each final), `input_audio_buffer.speech_started` / `…speech_stopped`, the
 * server's voice `command`s, `pong`, and `error` in OpenAI's shape. After `stop` the last finals
 * are sent and the server closes with 1000.
 *
 * The conversation is created before the socket: either minted by `POST /v1/sessions` (the
 * session is then that one, with its metadata), or by the app's own REST, which
 * `resolveConversation` can check. A malformed or missing id is refused with HTTP 400.
 *
 * @example
 * ```ts
 * createEarshotServer({
 *   provider,
 *   commands: { detector: createCommandDetector(scribeCommands), onCommand },
 *   dialects: [
 *     conversationDialect({
 *       resolveConversation: async (id) => {
 *         const conversation = await db.conversation.findUnique({ where: { id } });
 *         return conversation ? { userId: conversation.userId } : undefined;
 *       },
 *     }),
 *   ],
 * });
 * ```
 */
export function conversationDialect(options: ConversationDialectOptions = {}): Dialect {
  const path = options.path ?? '/transcription';
  return {
    name: 'conversation',
    mount(host: DialectHost): DialectEndpoint {
      const gate = new ConversationGate(host, options.resolveConversation);
      return {
        ownsPath: (pathname) => pathname === path,
        handleUpgrade(wss: UpgradeAcceptor, req: IncomingMessage, socket: Duplex, head: Buffer) {
          const url = new URL(req.url ?? '/', 'http://localhost');
          const conversationId = url.searchParams.get('conversationId');
          if (conversationId === null || !DIALECT_ID.test(conversationId)) {
            const message =
              conversationId === null
                ? '`conversationId` is required'
                : 'invalid `conversationId`: letters, digits and `._:-`, at most 128';
            refuseUpgrade(socket, new EarshotError('invalid_request', message));
            return;
          }
          gate.admit(conversationId, req).then(
            (admission) => {
              wss.handleUpgrade(req, socket, head, (ws) => {
                new ConversationConnection(ws, host, options, admission, req);
              });
            },
            (error: unknown) => refuseUpgrade(socket, error),
          );
        },
      };
    },
  };
}

/** One `/transcription` connection: one conversation's session. */
class ConversationConnection {
  private readonly wire: DialectSocket;
  private readonly session: Session;
  private readonly conversationId: string;
  private readonly deltas = new TranscriptDeltas();
  private started = false;
  private stopped = false;

  constructor(
    ws: WebSocket,
    private readonly host: DialectHost,
    private readonly options: ConversationDialectOptions,
    admission: ConversationAdmission,
    request: IncomingMessage,
  ) {
    this.conversationId = admission.conversationId;
    this.wire = new DialectSocket(ws, (message) => this.translate(message), host.outbound);
    this.session = host.openSession({
      id: admission.sessionId,
      peer: this.wire.peer,
      metadata: admission.metadata,
      preCreated: admission.preCreated,
      request,
    });
    this.wire.listen({
      json: (value) => this.control(value),
      binary: (bytes) => this.audio(bytes),
      invalid: (error) => this.refuse(error),
      gone: () => {
        this.deltas.clear();
        this.session.peerGone(this.wire.peer);
      },
    });
  }

  private translate(message: ServerMessageInput): unknown {
    const conversationId = this.conversationId;
    switch (message.type) {
      case 'transcript': {
        const item = { conversationId, item_id: message.segmentId, content_index: 0 };
        if (!message.isFinal) {
          const delta = this.deltas.next(message.segmentId, message.text);
          return delta === undefined ? undefined : { type: DELTA, ...item, delta };
        }
        // An empty final is silence, unless deltas of it were shown: then it takes them back.
        if (!this.deltas.settle(message.segmentId) && message.text.trim() === '') return undefined;
        return {
          type: COMPLETED,
          ...item,
          transcript: message.text,
          start: message.start,
          end: message.end,
          confidence: message.confidence,
        };
      }
      case 'speech_started':
        return {
          type: SPEECH_STARTED,
          conversationId,
          audio_start_ms: Math.round(message.timestamp * 1000),
        };
      case 'utterance_end':
        return {
          type: SPEECH_STOPPED,
          conversationId,
          audio_end_ms: Math.round(message.timestamp * 1000),
          item_id: message.segmentId,
        };
      case 'command':
        return {
          type: 'command',
          conversationId,
          name: message.name,
          phase: message.phase,
          slots: message.slots ?? {},
          result: message.result,
          error: message.error,
          item_id: message.segmentId,
        };
      case 'pong':
        return { type: 'pong' };
      case 'error':
        return this.errorEvent(message.code, message.message);
      case 'closed':
        this.deltas.clear();
        return undefined;
      default:
        return undefined;
    }
  }

  private control(value: unknown): void {
    const message = asRecord(value);
    const type = message?.type;
    if (STOP_TYPES.has(type)) {
      this.stop();
    } else if (type === 'ping') {
      this.session.ping();
    } else if (typeof type === 'string') {
      this.refuse(new EarshotError('unknown_message_type', `unknown message type "${type}"`));
    } else {
      this.refuse(new EarshotError('invalid_message', 'expected {"type": "stop" | "ping"}'));
    }
  }

  private audio(bytes: Buffer): void {
    // Audio after `stop` has nowhere to go; an empty chunk (MediaRecorder makes them) says
    // nothing, and as a first frame it would pass for raw PCM.
    if (this.stopped || bytes.byteLength === 0) return;
    if (!this.started) {
      this.started = true;
      startTransportSession(
        this.session,
        sniffAudioFormat(bytes) ?? this.options.defaultAudio ?? PCM16_16K_MONO,
        { interimResults: true, ...this.options.stream },
        this.host.logger,
      );
    }
    this.session.audio(bytes);
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    // Nothing was said: no finals to wait for, only the connection to close (1000).
    if (this.started) void this.session.stop();
    else void this.session.end('stopped');
  }

  /** Tells the frontend what was wrong with one of its frames; the session goes on. */
  private refuse(error: EarshotError): void {
    this.host.logger.debug(
      { sessionId: this.session.id, code: error.code },
      `conversation: ${error.message}`,
    );
    this.wire.send(this.errorEvent(error.code, error.message));
  }

  /** An error in OpenAI's shape, which the seed's frontend already handles. */
  private errorEvent(code: string, message: string) {
    return {
      type: 'error',
      conversationId: this.conversationId,
      error: { type: 'earshot_error', code, message },
    };
  }
}
