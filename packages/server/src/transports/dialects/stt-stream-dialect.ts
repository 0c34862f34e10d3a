import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type AudioFormat,
  AudioFormatSchema,
  PCM16_16K_MONO,
  type ServerMessageInput,
} from '@earshot/protocol';
import type { WebSocket } from 'ws';
import type { UpgradeAcceptor } from '../../security/connection-guard.js';
import type { Session } from '../../session/session.js';
import type { Dialect, DialectEndpoint, DialectHost } from './dialect.js';
import {
  asRecord,
  DialectSocket,
  type DialectStreamOptions,
  describeJson,
  startTransportSession,
} from './dialect-socket.js';
import { sniffAudioFormat } from './sniff-audio.js';
import { UtteranceCollector } from './utterance-collector.js';

/** Options of {@link sttStreamDialect}. */
export interface SttStreamDialectOptions {
  /** The WebSocket path. Default `/stt-stream`. */
  readonly path?: string;
  /** Recognition options of every session (language, provider, keywords…). */
  readonly stream?: DialectStreamOptions;
  /**
   * The format of binary audio that arrives before any `configure` and says nothing about
   * itself (WebM, Ogg and WAV are recognised by their first bytes). Default PCM16 16 kHz mono,
   * the seed's `linear16` example.
   */
  readonly defaultAudio?: AudioFormat;
  /** How long after a final, with no speech since, the utterance is sent. Default 1500 ms. */
  readonly utteranceQuietMs?: number;
}

/**
 * Seed 003's dialect (an Electron/React app's `/stt-stream`, written for a Deepgram relay):
 * `{"action":"configure","audio_format":{encoding, sample_rate, channels}}`, binary audio
 * (`linear16`, or what `MediaRecorder` records), `{"action":"stop"}`; back come
 * `{"type":"interim_transcript","transcript"}`, `{"type":"final_transcript","transcript"}`
 * with every final of an utterance joined (sent when the speaker pauses, and at `stop`), and
 * `{"type":"error","message"}`. After `stop` the last utterance is sent and the server closes.
 */
export function sttStreamDialect(options: SttStreamDialectOptions = {}): Dialect {
  const path = options.path ?? '/stt-stream';
  return {
    name: 'stt-stream',
    mount(host: DialectHost): DialectEndpoint {
      return {
        ownsPath: (pathname) => pathname === path,
        handleUpgrade(
          wss: UpgradeAcceptor,
          req: IncomingMessage,
          socket: Duplex,
          head: Buffer,
        ): void {
          wss.handleUpgrade(req, socket, head, (ws) => {
            new SttStreamConnection(ws, host, options, req);
          });
        },
      };
    },
  };
}

/** One `/stt-stream` connection. */
class SttStreamConnection {
  private readonly wire: DialectSocket;
  private readonly session: Session;
  private readonly utterances: UtteranceCollector;
  private configured: AudioFormat | undefined;
  private started = false;

  constructor(
    ws: WebSocket,
    private readonly host: DialectHost,
    private readonly options: SttStreamDialectOptions,
    request: IncomingMessage,
  ) {
    this.utterances = new UtteranceCollector(
      (utterance) => {
        if (utterance.text)
          this.wire.send({ type: 'final_transcript', transcript: utterance.text });
      },
      { quietMs: options.utteranceQuietMs },
    );
    this.wire = new DialectSocket(ws, (message) => this.translate(message), host.outbound);
    this.session = host.openSession({ peer: this.wire.peer, metadata: {}, request });
    this.wire.listen({
      json: (value) => this.control(value),
      binary: (bytes) => this.audio(bytes),
      invalid: (error) => this.error(error.message),
      gone: () => {
        this.utterances.dispose();
        this.session.peerGone(this.wire.peer);
      },
    });
  }

  private translate(message: ServerMessageInput): unknown {
    this.utterances.observe(message);
    switch (message.type) {
      case 'transcript':
        return !message.isFinal && message.text.trim() !== ''
          ? { type: 'interim_transcript', transcript: message.text }
          : undefined;
      case 'error':
        return { type: 'error', message: message.message, code: message.code };
      case 'closed':
        // The last utterance goes out before the connection closes.
        this.utterances.flush();
        return undefined;
      default:
        return undefined;
    }
  }

  private control(value: unknown): void {
    const message = asRecord(value);
    const action = message?.action ?? message?.type;
    switch (action) {
      case 'configure':
      case 'start':
        this.configure(message?.audio_format ?? message?.audioFormat ?? message?.config);
        return;
      case 'stop':
      case 'close':
      case 'end':
        // Nothing was said: there is nothing to flush, only the connection to close.
        if (!this.started) this.wire.close();
        else void this.session.stop();
        return;
      default:
        this.error(
          action === undefined
            ? 'expected {"action": "configure" | "stop"}'
            : `unknown action ${describeJson(action)}`,
        );
    }
  }

  private configure(raw: unknown): void {
    if (this.started) {
      this.error('already configured: the audio format is fixed once audio has started');
      return;
    }
    const format = parseAudioFormat(raw);
    if (typeof format === 'string') {
      this.error(format);
      return;
    }
    this.configured = format;
  }

  private audio(bytes: Buffer): void {
    if (!this.started) {
      // A container says what it is, whatever `configure` said (MediaRecorder picks its own).
      this.startWith(sniffAudioFormat(bytes) ?? this.configured ?? this.defaultAudio());
    }
    this.session.audio(bytes);
  }

  private startWith(format: AudioFormat): void {
    this.started = true;
    startTransportSession(
      this.session,
      format,
      { interimResults: true, ...this.options.stream },
      this.host.logger,
    );
  }

  private defaultAudio(): AudioFormat {
    return this.options.defaultAudio ?? PCM16_16K_MONO;
  }

  private error(message: string): void {
    this.wire.send({ type: 'error', message });
  }
}

// Deepgram's encoding names (the seed's frontend was written against them), MIME types as
// `MediaRecorder` reports them, and Earshot's own.
const ENCODINGS: Readonly<Record<string, AudioFormat['encoding']>> = {
  linear16: 'pcm16',
  pcm16: 'pcm16',
  pcm_s16le: 'pcm16',
  mulaw: 'mulaw',
  'mu-law': 'mulaw',
  alaw: 'alaw',
  'a-law': 'alaw',
  opus: 'webm-opus',
  webm: 'webm-opus',
  'webm-opus': 'webm-opus',
  'audio/webm': 'webm-opus',
  'audio/webm;codecs=opus': 'webm-opus',
  ogg: 'ogg-opus',
  'ogg-opus': 'ogg-opus',
  'audio/ogg': 'ogg-opus',
  'audio/ogg;codecs=opus': 'ogg-opus',
  wav: 'wav',
  'audio/wav': 'wav',
};

/** Reads `audio_format` (`{encoding, sample_rate, channels}`); a string says what is wrong. */
export function parseAudioFormat(raw: unknown): AudioFormat | string {
  const given = asRecord(raw);
  if (!given) return 'configure needs "audio_format": {"encoding", "sample_rate", "channels"}';
  const named = given.encoding ?? given.mimeType ?? 'linear16';
  if (typeof named !== 'string') return `unsupported encoding ${describeJson(named)}`;
  const name = named.toLowerCase().replace(/\s+/g, '');
  const encoding = ENCODINGS[name];
  if (!encoding) return `unsupported encoding ${describeJson(name)}`;
  const opus = encoding === 'webm-opus' || encoding === 'ogg-opus';
  const candidate = {
    encoding,
    sampleRate: numeric(given.sample_rate ?? given.sampleRate ?? (opus ? 48000 : 16000)),
    channels: numeric(given.channels ?? 1),
  };
  const parsed = AudioFormatSchema.safeParse(candidate);
  if (!parsed.success) {
    return `unsupported audio_format: sample_rate ${candidate.sampleRate}, channels ${candidate.channels}`;
  }
  return parsed.data;
}

/** A number given as a number or a numeric string; `NaN` for anything else (never a throw). */
function numeric(value: unknown): number {
  return typeof value === 'number' || typeof value === 'string' ? Number(value) : Number.NaN;
}
