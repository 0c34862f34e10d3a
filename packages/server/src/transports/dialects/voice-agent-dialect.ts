import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type AudioFormat,
  bytesPerSecond,
  describeAudioFormat,
  EarshotError,
  isWav,
  type ServerMessageInput,
} from '@earshot/protocol';
import type { WebSocket } from 'ws';
import { monoClipAt, wavClip } from '../../audio/clip.js';
import { pcm16FromBytes, pcm16ToBytes } from '../../audio/pcm16.js';
import { ReplyLoop, type ReplyOutcome } from '../../replies/reply-loop.js';
import type { Responder } from '../../replies/responder.js';
import { refuseUpgrade } from '../../rest/http-json.js';
import type { UpgradeAcceptor } from '../../security/connection-guard.js';
import type { Session } from '../../session/session.js';
import { decodeBase64Strict } from '../twilio/twilio-events.js';
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
import { type CollectedUtterance, UtteranceCollector } from './utterance-collector.js';

/** Options of {@link voiceAgentDialect}. */
export interface VoiceAgentDialectOptions {
  /** Prefix of the path: the socket is `<prefix>/{client_id}`. Default `/ws`. */
  readonly pathPrefix?: string;
  /** What answers each utterance. Default: the server's `responder`; without one, only `user_transcript` is sent. */
  readonly responder?: Responder;
  /** The format of `audio_chunk` audio without a WAV header. Default PCM16 48 kHz mono, as the seed's frontend records. */
  readonly defaultAudio?: AudioFormat;
  /** Recognition options of every session (language, provider, keywords…). */
  readonly stream?: DialectStreamOptions;
  /** Earlier exchanges the responder is given. Default 10. */
  readonly maxHistory?: number;
  /**
   * The largest message accepted (1009 above it): `send_for_AI_processing` carries a whole
   * utterance as a base64 WAV. Default 8 MiB, about 60 s of its 48 kHz audio.
   */
  readonly maxMessageBytes?: number;
}

const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

const PCM16_48K: AudioFormat = { encoding: 'pcm16', sampleRate: 48000, channels: 1 };

/**
 * Seed 004's dialect (an interview app's FastAPI voice agent): `/ws/{client_id}`; JSON
 * `{"type":"audio_chunk","chunk":<base64>,"isSpeaking":bool}` (PCM16 48 kHz mono unless a WAV
 * header says otherwise), where `isSpeaking` going from true to false ends an utterance; the
 * legacy `{"type":"send_for_AI_processing","audio":<base64 WAV>}` (one whole utterance). Back
 * come `{"type":"user_transcript","text"}` and then `{"type":"ai_response","text","audio"}`
 * (base64 WAV) from the responder, or `{"type":"error","message"}`. Utterances are answered
 * one at a time per client; audio that arrives meanwhile is transcribed, not dropped.
 *
 * Mount it after `ambientDialect`, whose `/ws/transcribe` it would otherwise take.
 */
export function voiceAgentDialect(options: VoiceAgentDialectOptions = {}): Dialect {
  const prefix = (options.pathPrefix ?? '/ws').replace(/\/$/, '');
  return {
    name: 'voice-agent',
    mount(host: DialectHost): DialectEndpoint {
      return {
        ownsPath: (pathname) =>
          pathname.startsWith(`${prefix}/`) && !pathname.slice(prefix.length + 1).includes('/'),
        maxFrameBytes: options.maxMessageBytes ?? MAX_MESSAGE_BYTES,
        handleUpgrade(wss: UpgradeAcceptor, req: IncomingMessage, socket: Duplex, head: Buffer) {
          const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
          const clientId = decodeUriPart(pathname.slice(prefix.length + 1));
          if (clientId === undefined || !DIALECT_ID.test(clientId)) {
            refuseUpgrade(socket, new EarshotError('invalid_request', 'invalid client id'));
            return;
          }
          wss.handleUpgrade(req, socket, head, (ws) => {
            new VoiceAgentConnection(ws, host, options, clientId, req);
          });
        },
      };
    },
  };
}

/** One `/ws/{client_id}` connection. */
class VoiceAgentConnection {
  private readonly wire: DialectSocket;
  private readonly session: Session;
  private readonly utterances: UtteranceCollector;
  private readonly replies: ReplyLoop | undefined;
  private format: AudioFormat | undefined;
  private speaking = false;
  /**
   * Seconds of audio fed so far, on the session's clock (transcript times): where a cut is. The
   * session's own count starts only once its provider is open.
   */
  private fedSeconds = 0;

  constructor(
    ws: WebSocket,
    private readonly host: DialectHost,
    private readonly options: VoiceAgentDialectOptions,
    clientId: string,
    request: IncomingMessage,
  ) {
    this.wire = new DialectSocket(ws, (message) => this.translate(message), host.outbound);
    this.session = host.openSession({
      peer: this.wire.peer,
      metadata: { clientId },
      request,
      // A whole utterance may come in one message, before the provider is open.
      limits: { maxPendingAudioBytes: options.maxMessageBytes ?? MAX_MESSAGE_BYTES },
    });
    this.utterances = new UtteranceCollector((u) => this.heard(u), { endsOn: 'cut' });
    const responder = options.responder ?? host.responder;
    this.replies = responder
      ? new ReplyLoop(responder, (outcome) => this.answer(outcome), {
          sessionId: this.session.id,
          metadata: () => this.session.metadata,
          maxHistory: options.maxHistory,
          logger: host.logger,
          // Each transcript right before its reply: the pairs stay in order while utterances queue.
          onTurn: (text) => this.wire.send({ type: 'user_transcript', text }),
        })
      : undefined;
    this.wire.listen({
      json: (value) => this.control(value),
      // Not the seed's wire, but what a frontend sending raw audio would do.
      binary: (bytes) => this.feed(bytes),
      invalid: (error) =>
        this.error(error.code === 'invalid_json' ? 'Invalid JSON message' : error.message),
      gone: () => {
        this.utterances.dispose();
        this.replies?.close();
        this.session.peerGone(this.wire.peer);
      },
    });
  }

  private translate(message: ServerMessageInput): unknown {
    this.utterances.observe(message);
    return message.type === 'error'
      ? { type: 'error', message: message.message, code: message.code }
      : undefined;
  }

  private control(value: unknown): void {
    const message = asRecord(value);
    switch (message?.type) {
      case 'audio_chunk':
        this.audioChunk(message);
        return;
      case 'send_for_AI_processing':
        this.wholeUtterance(message);
        return;
      case 'ping':
        this.wire.send({ type: 'pong', timestamp: new Date().toISOString() });
        return;
      default:
        this.error(`Unknown message type: ${describeJson(message?.type ?? null)}`);
    }
  }

  /** A piece of the live stream; `isSpeaking` true → false ends the utterance. */
  private audioChunk(message: Record<string, unknown>): void {
    const encoded = audioField(message);
    if (encoded === undefined) {
      this.error('audio_chunk needs "chunk": base64 audio (may be empty)');
      return;
    }
    const bytes = decodeBase64Strict(encoded);
    if (!bytes) {
      this.error('audio_chunk: "chunk" is not valid base64');
      return;
    }
    if (bytes.byteLength > 0) this.feed(bytes);
    const speaking = message.isSpeaking ?? message.is_speaking;
    if (typeof speaking !== 'boolean') return;
    if (this.speaking && !speaking) this.cut();
    this.speaking = speaking;
  }

  /** The legacy message: one whole utterance as a WAV file. */
  private wholeUtterance(message: Record<string, unknown>): void {
    const bytes = decodeBase64Strict(audioField(message) ?? '');
    if (!bytes || !isWav(bytes)) {
      this.error('send_for_AI_processing needs "audio": a base64 WAV file');
      return;
    }
    if (this.feed(bytes)) this.cut();
  }

  /** Audio into the session, started with the first audio's format. Resolves whether it was taken. */
  private feed(bytes: Uint8Array): boolean {
    let audio = bytes;
    let format = this.format ?? this.options.defaultAudio ?? PCM16_48K;
    if (isWav(bytes)) {
      let clip: ReturnType<typeof wavClip>;
      try {
        clip = wavClip(bytes);
      } catch (error) {
        this.error(`unusable WAV audio: ${EarshotError.from(error).message}`);
        return false;
      }
      if (!clip) {
        this.error('a WAV header cut short');
        return false;
      }
      format = this.format ?? clip.format;
      const converted = convertClip(clip, format);
      if (!converted) {
        this.error(`audio of another format than the session's (${describeAudioFormat(format)})`);
        return false;
      }
      audio = converted;
    }
    if (!this.format) {
      this.format = format;
      startTransportSession(
        this.session,
        format,
        { interimResults: true, ...this.options.stream },
        this.host.logger,
      );
    }
    this.session.audio(audio);
    this.fedSeconds += audio.byteLength / (bytesPerSecond(format) ?? Number.POSITIVE_INFINITY);
    return true;
  }

  private cut(): void {
    if (!this.format) return;
    this.session.finalize();
    this.utterances.cut(this.fedSeconds);
  }

  private heard(utterance: CollectedUtterance): void {
    if (utterance.text === '') {
      this.error('No speech detected');
      return;
    }
    if (this.replies) this.replies.push(utterance.text);
    else this.wire.send({ type: 'user_transcript', text: utterance.text });
  }

  private answer(outcome: ReplyOutcome): void {
    if ('error' in outcome) {
      this.error(`AI processing failed: ${outcome.error.message}`);
      return;
    }
    const { reply } = outcome;
    this.wire.send({
      type: 'ai_response',
      text: reply.text,
      // The seed sends the field only when speech was made.
      ...(reply.audio ? { audio: Buffer.from(reply.audio.data).toString('base64') } : {}),
    });
  }

  private error(message: string): void {
    this.wire.send({ type: 'error', message });
  }
}

/** The base64 audio of a message, under the names frontends use for it. */
function audioField(message: Record<string, unknown>): string | undefined {
  for (const name of ['chunk', 'audio', 'data', 'audioData', 'audio_data']) {
    if (typeof message[name] === 'string') return message[name] as string;
  }
  return undefined;
}

/** A WAV clip's samples in the session's format, or `undefined` when they cannot be. */
function convertClip(
  clip: NonNullable<ReturnType<typeof wavClip>>,
  to: AudioFormat,
): Uint8Array | undefined {
  const from = clip.format;
  if (
    from.encoding === to.encoding &&
    from.sampleRate === to.sampleRate &&
    from.channels === to.channels
  ) {
    return clip.data;
  }
  if (from.encoding !== 'pcm16' || to.encoding !== 'pcm16' || to.channels !== 1) return undefined;
  return pcm16ToBytes(
    monoClipAt(pcm16FromBytes(clip.data), from.sampleRate, from.channels, to.sampleRate),
  );
}
