import { CloseCode, type Logger, type Metadata, type StartMessageInput } from '@earshot/protocol';
import type { WebSocket } from 'ws';
import type { Responder } from '../../replies/responder.js';
import type { Session } from '../../session/session.js';
import type { SessionPeer } from '../../session/session-peer.js';
import { startTransportSession } from '../dialects/dialect-socket.js';
import { CallReplies } from './call-replies.js';
import { type PlayAudio, toPhoneAudio } from './phone-audio.js';
import {
  decodeBase64Strict,
  parseTwilioFrame,
  type TwilioEvent,
  type TwilioFrameProblem,
  type TwilioStart,
} from './twilio-events.js';
import { PHONE_FRAME_BYTES, type PlayOutcome, TwilioPlayer } from './twilio-player.js';

/** One call's figures (seed 002's, plus what the transport saw on the wire). */
export interface TwilioCallStats {
  readonly callSid?: string;
  readonly streamSid?: string;
  /** `media` frames of the caller's audio received. */
  readonly audioChunksReceived: number;
  /** Bytes of μ-law audio received. */
  readonly bytesReceived: number;
  /** Final transcript lines so far. */
  readonly transcriptLines: number;
  /** Milliseconds since the stream connected. */
  readonly durationMs: number;
  /** Bytes of audio queued to play to the caller and not yet sent. */
  readonly bufferSize: number;
  /** Frames missing in the sequence numbers (each replaced by 20 ms of silence). */
  readonly sequenceGaps: number;
  /** Frames that came with a sequence number at or below one already seen (dropped). */
  readonly outOfOrder: number;
  /** Frames that were not usable, by why: `invalid_json`, `unknown_event`, `malformed`, `invalid_payload`, `media_before_start`. */
  readonly rejectedFrames: Readonly<Record<string, number>>;
  /** Keys the caller pressed, in order. */
  readonly dtmf: string;
  /** Marks sent after played audio, and the ones Twilio echoed (played or cleared). */
  readonly marksSent: number;
  readonly marksEchoed: number;
}

/** What a call needs from the server. */
export interface TwilioCallHost {
  readonly logger: Logger;
  /** The recognition options of a call's `start` (language, provider, keywords…). */
  readonly startOptions: Omit<StartMessageInput, 'type' | 'audio' | 'metadata' | 'resume'>;
  /** Makes and registers the session of a call; `undefined` when that call already has one. */
  openSession(callSid: string, peer: SessionPeer, metadata: Metadata): Session | undefined;
  /** Converts audio to play (FFmpeg for what is not PCM or WAV). */
  readonly ffmpegPath?: string;
  /** Answers what the caller says, played into the call (a bidirectional stream only). */
  readonly responder?: Responder;
  /** The call is over (its socket closed). */
  onClosed(call: TwilioCall): void;
}

// A gap longer than this is not filled with silence (the call's clock jumps instead).
const MAX_FILLED_GAP_FRAMES = 50;
const MULAW_SILENCE = 0xff;
// The first few unusable frames of a call are logged; the rest are only counted.
const LOGGED_PROBLEMS = 5;

/**
 * One Twilio media stream bound to its session. Twilio's events become calls on the session:
 * `start` opens it (the session's id is the `callSid`, `customParameters` its metadata),
 * `media` is audio (sequence gaps filled with silence, late frames dropped, both counted),
 * `dtmf` is stored as an event, `mark` settles what was played, `stop` stops it. Anything
 * unusable is counted and logged, and the call goes on.
 */
export class TwilioCall {
  private session: Session | undefined;
  private start: TwilioStart['start'] | undefined;
  private player: TwilioPlayer | undefined;
  private replies: CallReplies | undefined;
  private readonly connectedAt = Date.now();
  private lastSequence = 0;
  private chunks = 0;
  private bytes = 0;
  private gaps = 0;
  private late = 0;
  private digits = '';
  private readonly problems: Record<string, number> = {};
  private problemsLogged = 0;
  private stopped = false;
  private gone = false;
  private readonly peer: SessionPeer;

  constructor(
    private readonly socket: WebSocket,
    private readonly host: TwilioCallHost,
  ) {
    this.peer = {
      resumable: false,
      send: (message) => {
        this.replies?.observe(message);
        // Twilio takes audio, not transcripts (observers and the store have those). The caller
        // speaking over played audio is a barge-in.
        if (
          message.type === 'speech_started' ||
          (message.type === 'transcript' && message.text.trim() !== '')
        ) {
          this.player?.bargeIn();
        }
      },
      close: (code, reason) => {
        if (socket.readyState === socket.OPEN) socket.close(code, reason);
      },
      play: (audio) => this.play(audio),
    };
    socket.on('message', (data, isBinary) => {
      if (isBinary) this.reject('malformed', 'a binary frame');
      else this.receive(String(data));
    });
    socket.on('close', () => this.closed());
    socket.on('error', () => this.closed());
  }

  /** The call's id, once `start` said it. */
  get callSid(): string | undefined {
    return this.start?.callSid;
  }

  /** The session of the call, once started. */
  get sessionOf(): Session | undefined {
    return this.session;
  }

  /** The `customParameters` of the call's `start`. */
  get parameters(): Readonly<Record<string, string>> {
    return this.start?.customParameters ?? {};
  }

  /** The call's figures now. */
  stats(): TwilioCallStats {
    return {
      callSid: this.start?.callSid,
      streamSid: this.start?.streamSid,
      audioChunksReceived: this.chunks,
      bytesReceived: this.bytes,
      transcriptLines: this.session?.info().finalSegments ?? 0,
      durationMs: Date.now() - this.connectedAt,
      bufferSize: this.player?.bufferedBytes ?? 0,
      sequenceGaps: this.gaps,
      outOfOrder: this.late,
      rejectedFrames: { ...this.problems },
      dtmf: this.digits,
      marksSent: this.player?.marks.sent.length ?? 0,
      marksEchoed: this.player?.marks.echoed.length ?? 0,
    };
  }

  /** Plays audio to the caller (a bidirectional `<Connect><Stream>` call only). */
  async play(audio: PlayAudio): Promise<PlayOutcome> {
    if (!this.player) return 'interrupted';
    return this.player.play(await toPhoneAudio(audio, this.host.ffmpegPath));
  }

  /** Ends the call's stream from the server's side: the session stops, the socket closes. */
  async close(): Promise<void> {
    if (this.session) await this.session.end('ended', CloseCode.SessionEnded);
    else this.socket.close(CloseCode.Normal, 'closed by the server');
  }

  private receive(text: string): void {
    const parsed = parseTwilioFrame(text);
    if (!parsed.ok) {
      this.reject(parsed.problem, parsed.detail);
      return;
    }
    this.handle(parsed.event);
  }

  private handle(event: TwilioEvent): void {
    switch (event.event) {
      case 'connected':
        return;
      case 'start':
        this.begin(event);
        return;
      case 'media': {
        if (!this.session) {
          this.reject('media_before_start', `media ${event.sequenceNumber}`);
          return;
        }
        if (event.media.track !== 'inbound') return; // the call's own outbound audio
        const audio = decodeBase64Strict(event.media.payload);
        if (!audio) {
          this.reject('invalid_payload', `media ${event.sequenceNumber}: not base64`);
          return;
        }
        this.media(Number(event.sequenceNumber), audio);
        return;
      }
      case 'mark':
        this.player?.echoed(event.mark.name);
        return;
      case 'dtmf':
        this.digits += event.dtmf.digit;
        this.session?.noteEvent('dtmf', { digit: event.dtmf.digit });
        return;
      case 'stop':
        this.stopped = true;
        if (this.session) void this.session.stop();
        else this.socket.close(CloseCode.Normal, 'stopped before start');
        return;
    }
  }

  private begin(event: TwilioStart): void {
    if (this.start) {
      this.reject('malformed', 'a second start');
      return;
    }
    const { start } = event;
    const format = start.mediaFormat;
    if (
      format.encoding !== 'audio/x-mulaw' ||
      format.sampleRate !== 8000 ||
      format.channels !== 1
    ) {
      this.host.logger.warn(
        { format },
        'twilio: unexpected media format; reading it as μ-law 8 kHz',
      );
    }
    this.start = start;
    // `start` takes the first sequence number; media go on from it.
    this.lastSequence = Number(event.sequenceNumber ?? 0);
    const metadata: Metadata = {
      ...start.customParameters,
      callSid: start.callSid,
      streamSid: start.streamSid,
      transport: 'twilio',
    };
    const session = this.host.openSession(start.callSid, this.peer, metadata);
    if (!session) {
      this.host.logger.warn({ callSid: start.callSid }, 'twilio: a second stream for a live call');
      this.socket.close(CloseCode.PolicyViolation, 'this call already has a stream');
      return;
    }
    this.session = session;
    // Only a bidirectional stream (inbound track alone) takes audio back.
    this.player = new TwilioPlayer(
      (text) => {
        if (this.socket.readyState === this.socket.OPEN) this.socket.send(text);
      },
      start.streamSid,
      this.host.logger,
    );
    if (this.host.responder) {
      this.replies = new CallReplies(
        this.host.responder,
        session,
        (audio) => this.play(audio),
        this.host.logger,
      );
    }
    startTransportSession(
      session,
      { encoding: 'mulaw', sampleRate: 8000, channels: 1 },
      this.host.startOptions,
      this.host.logger,
      metadata,
    );
  }

  private media(sequence: number, audio: Buffer): void {
    if (this.lastSequence > 0 && sequence <= this.lastSequence) {
      this.late++;
      return;
    }
    const missing = this.lastSequence > 0 ? sequence - this.lastSequence - 1 : 0;
    this.lastSequence = sequence;
    if (missing > 0) {
      this.gaps += missing;
      // Silence in place of the lost frames keeps the session's clock on the call's.
      if (missing <= MAX_FILLED_GAP_FRAMES) {
        this.session!.audio(new Uint8Array(missing * PHONE_FRAME_BYTES).fill(MULAW_SILENCE));
      }
    }
    this.chunks++;
    this.bytes += audio.byteLength;
    this.session!.audio(audio);
  }

  private reject(
    problem: TwilioFrameProblem | 'invalid_payload' | 'media_before_start',
    detail: string,
  ): void {
    this.problems[problem] = (this.problems[problem] ?? 0) + 1;
    if (this.problemsLogged++ < LOGGED_PROBLEMS) {
      this.host.logger.warn(
        { callSid: this.start?.callSid, problem, detail },
        'twilio: frame not used; the call goes on',
      );
    }
  }

  private closed(): void {
    if (this.gone) return; // 'error' and 'close' may both come
    this.gone = true;
    this.player?.stop();
    this.replies?.close();
    if (this.session) this.session.peerGone(this.peer);
    this.host.onClosed(this);
    if (!this.stopped) {
      this.host.logger.info({ callSid: this.start?.callSid }, 'twilio: stream closed without stop');
    }
  }
}
