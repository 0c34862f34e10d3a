import { createHmac } from 'node:crypto';
import { WebSocket } from 'ws';

/** Options of {@link TwilioCaller.connect}. */
export interface TwilioCallerOptions {
  /** The stream URL to connect to, e.g. `ws://127.0.0.1:8787/v1/twilio`. */
  readonly url: string;
  /** Signs the upgrade as Twilio does when given (over `signedUrl`, default `url`). */
  readonly authToken?: string;
  /** The URL the signature is computed over (Twilio signs the URL in the TwiML). */
  readonly signedUrl?: string;
  /** A signature to send instead of the right one. */
  readonly signature?: string;
  readonly callSid?: string;
  readonly streamSid?: string;
  readonly customParameters?: Record<string, string>;
  /** Send `connected` and `start` on open. Default true. */
  readonly start?: boolean;
}

/** A frame the server sent to Twilio, with when it arrived (ms, `performance.now()`). */
export interface TwilioOutboundFrame {
  readonly event: 'media' | 'mark' | 'clear' | string;
  readonly at: number;
  /** μ-law bytes of a `media` frame. */
  readonly payload?: Buffer;
  /** Name of a `mark`. */
  readonly mark?: string;
}

const FRAME_BYTES = 160;
const FRAME_MS = 20;

let calls = 0;

/**
 * Plays Twilio's side of a Media Stream, as Twilio does it: signs the upgrade
 * (`X-Twilio-Signature`, HMAC-SHA1 of the URL with the auth token), sends `connected` then
 * `start`, streams μ-law 8 kHz in 20 ms `media` frames with string sequence numbers, chunks and
 * timestamps at real-time pace, and `stop`. Of what the server sends back it plays `media` out
 * in real time, echoes each `mark` once the audio before it has played, and on `clear` drops
 * what is queued and echoes the pending marks at once.
 */
export class TwilioCaller {
  readonly callSid: string;
  readonly streamSid: string;
  /** What the server sent, in order. */
  readonly received: TwilioOutboundFrame[] = [];
  private sequence = 0;
  private chunk = 0;
  private playedUntil = 0;
  private readonly pendingMarks: { name: string; timer: NodeJS.Timeout }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(
    readonly socket: WebSocket,
    options: TwilioCallerOptions,
  ) {
    calls++;
    this.callSid = options.callSid ?? `CA${String(calls).padStart(32, '0')}`;
    this.streamSid = options.streamSid ?? `MZ${String(calls).padStart(32, '0')}`;
    this.closed = new Promise((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    socket.on('message', (data) => this.fromServer(String(data)));
  }

  /** Connects (and, unless told not to, sends `connected` and `start`). */
  static async connect(options: TwilioCallerOptions): Promise<TwilioCaller> {
    const headers: Record<string, string> = {};
    if (options.signature !== undefined) headers['x-twilio-signature'] = options.signature;
    else if (options.authToken) {
      headers['x-twilio-signature'] = createHmac('sha1', options.authToken)
        .update(options.signedUrl ?? options.url)
        .digest('base64');
    }
    const socket = new WebSocket(options.url, { headers });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('unexpected-response', (_req, res) =>
        reject(
          Object.assign(new Error(`upgrade refused: ${res.statusCode}`), {
            status: res.statusCode,
          }),
        ),
      );
      socket.once('error', reject);
    });
    const caller = new TwilioCaller(socket, options);
    if (options.start !== false) {
      caller.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
      caller.sendStart(options.customParameters ?? {});
    }
    return caller;
  }

  /** Sends `start`. */
  sendStart(customParameters: Record<string, string> = {}): void {
    this.sendJson({
      event: 'start',
      sequenceNumber: String(++this.sequence),
      streamSid: this.streamSid,
      start: {
        streamSid: this.streamSid,
        accountSid: 'AC00000000000000000000000000000000',
        callSid: this.callSid,
        tracks: ['inbound'],
        customParameters,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
  }

  /** Sends one `media` frame (by default the next sequence number). */
  sendMedia(mulaw: Uint8Array, sequence = ++this.sequence): void {
    const chunk = ++this.chunk;
    this.sendJson({
      event: 'media',
      sequenceNumber: String(sequence),
      streamSid: this.streamSid,
      media: {
        track: 'inbound',
        chunk: String(chunk),
        timestamp: String((chunk - 1) * FRAME_MS),
        payload: Buffer.from(mulaw).toString('base64'),
      },
    });
  }

  /** Skips sequence numbers, as a lost frame would. */
  skip(frames: number): void {
    this.sequence += frames;
  }

  /** Streams μ-law audio in 20 ms frames at real-time pace (clocked against drift). */
  async streamAudio(
    mulaw: Uint8Array,
    options: { pace?: 'realtime' | 'fast' } = {},
  ): Promise<void> {
    const started = performance.now();
    for (let at = 0, n = 0; at < mulaw.byteLength; at += FRAME_BYTES, n++) {
      if (this.socket.readyState !== this.socket.OPEN) return;
      this.sendMedia(mulaw.subarray(at, at + FRAME_BYTES));
      if (options.pace !== 'fast') {
        const wait = started + (n + 1) * FRAME_MS - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** Sends `dtmf`. */
  pressKey(digit: string): void {
    this.sendJson({
      event: 'dtmf',
      sequenceNumber: String(++this.sequence),
      streamSid: this.streamSid,
      dtmf: { track: 'inbound_track', digit },
    });
  }

  /** Sends `stop` (the caller hung up); resolves when the server closed the socket. */
  async stop(): Promise<{ code: number; reason: string }> {
    this.sendJson({
      event: 'stop',
      sequenceNumber: String(++this.sequence),
      streamSid: this.streamSid,
      stop: { accountSid: 'AC00000000000000000000000000000000', callSid: this.callSid },
    });
    return this.closed;
  }

  sendJson(message: unknown): void {
    this.sendText(JSON.stringify(message));
  }

  sendText(text: string): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(text);
  }

  /** Closes the socket without `stop` (a dropped call). */
  drop(): void {
    this.socket.terminate();
  }

  private fromServer(text: string): void {
    const now = performance.now();
    const message = JSON.parse(text) as {
      event: string;
      media?: { payload: string };
      mark?: { name: string };
    };
    switch (message.event) {
      case 'media': {
        const payload = Buffer.from(message.media?.payload ?? '', 'base64');
        this.received.push({ event: 'media', at: now, payload });
        // Twilio plays what it is sent one frame after another.
        this.playedUntil = Math.max(this.playedUntil, now) + (payload.byteLength / 8000) * 1000;
        return;
      }
      case 'mark': {
        const name = message.mark?.name ?? '';
        this.received.push({ event: 'mark', at: now, mark: name });
        const entry = {
          name,
          timer: setTimeout(() => this.echo(entry), Math.max(0, this.playedUntil - now)),
        };
        this.pendingMarks.push(entry);
        return;
      }
      case 'clear':
        this.received.push({ event: 'clear', at: now });
        this.playedUntil = now;
        for (const entry of [...this.pendingMarks]) {
          clearTimeout(entry.timer);
          this.echo(entry);
        }
        return;
      default:
        this.received.push({ event: message.event, at: now });
    }
  }

  private echo(entry: { name: string; timer: NodeJS.Timeout }): void {
    const index = this.pendingMarks.indexOf(entry);
    if (index >= 0) this.pendingMarks.splice(index, 1);
    this.sendJson({
      event: 'mark',
      sequenceNumber: String(++this.sequence),
      streamSid: this.streamSid,
      mark: { name: entry.name },
    });
  }
}
