import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { EarshotError, type Logger, type Metadata } from '@earshot/protocol';
import type { Responder } from '../../replies/responder.js';
import { refuseUpgrade, sendError } from '../../rest/http-json.js';
import type { UpgradeAcceptor } from '../../security/connection-guard.js';
import type { Session } from '../../session/session.js';
import type { SessionPeer } from '../../session/session-peer.js';
import { TwilioCall, type TwilioCallHost, type TwilioCallStats } from './twilio-call.js';
import { isValidTwilioSignature } from './twilio-signature.js';

/** The `twilio` option of the server: Twilio Media Streams at `/v1/twilio`. */
export interface TwilioOptions {
  /**
   * The account's auth token. When set, the stream's upgrade and the voice webhook must carry a
   * valid `X-Twilio-Signature`, or are refused with HTTP 403 before anything is accepted.
   */
  readonly authToken?: string;
  /** Path of the media stream WebSocket. Default `/v1/twilio`; the webhook is `<path>/voice`. */
  readonly path?: string;
  /**
   * The public base URL Twilio reaches this server at (`https://calls.example.com`): the stream
   * URL in the TwiML and the URL signatures are checked against. Without it, the request's
   * `Host` (and `X-Forwarded-Proto`) are used.
   */
  readonly publicUrl?: string;
  /**
   * Recognition options of every call: `language`, `provider`, `keywords` (phrase hints),
   * `providerOptions` (e.g. `{ model: 'phone_call' }` for Google), `interimResults`.
   */
  readonly stream?: TwilioCallHost['startOptions'];
  /**
   * The voice webhook's TwiML: `connect` (default) answers `<Connect><Stream>`, a bidirectional
   * stream the server can play into; `start` answers `<Start><Stream>`, a fork of the call's
   * audio while the call goes on. `parameters` picks the `<Parameter>`s (they come back as the
   * session's metadata) from the webhook's form (`From`, `To`, `CallSid`…); by default
   * `{ from: From }`.
   */
  readonly twiml?: {
    /** `<Connect><Stream>` (bidirectional, the default) or `<Start><Stream>` (a fork). */
    readonly mode?: 'connect' | 'start';
    /** The stream's `<Parameter>`s, from the webhook's form. */
    readonly parameters?: (form: Readonly<Record<string, string>>) => Record<string, string>;
  };
  /** FFmpeg for converting played audio that is not PCM or WAV. Default `ffmpeg`. */
  readonly ffmpegPath?: string;
  /**
   * Answer callers: what a caller says (up to each pause) goes to the server's `responder`, and
   * its spoken reply is played into the call (a `<Connect><Stream>` call), stopped when the
   * caller speaks over it. Needs the server's `responder`. Default false.
   */
  readonly reply?: boolean;
}

/** What the Twilio endpoint needs from the server. */
export interface TwilioEndpointHost {
  readonly logger: Logger;
  /** The server's responder, for `reply`. */
  readonly responder?: Responder;
  openSession(callSid: string, peer: SessionPeer, metadata: Metadata): Session | undefined;
}

/**
 * The calls on this node (seed 002's `mediaStreamManager`): a call's session by its
 * `callSid`, a user's calls (by the `userId` custom parameter), closing a call, per-call stats.
 */
export interface TwilioCalls {
  /** The live call with this `callSid`. */
  get(callSid: string): TwilioCall | undefined;
  /** Every live call. */
  list(): TwilioCall[];
  /** The live calls whose `userId` custom parameter is `userId`. */
  ofUser(userId: string): TwilioCall[];
  /** Ends a call's stream (its session ends with reason `ended`). Resolves whether there was one. */
  close(callSid: string): Promise<boolean>;
  /** A call's figures, or `undefined` when there is no such live call. */
  stats(callSid: string): TwilioCallStats | undefined;
}

/** The Twilio transport: its WebSocket upgrade, its voice webhook, and its calls. */
export class TwilioEndpoint implements TwilioCalls {
  private readonly path: string;
  private readonly calls = new Set<TwilioCall>();

  constructor(
    private readonly options: TwilioOptions,
    private readonly host: TwilioEndpointHost,
  ) {
    this.path = (options.path ?? '/v1/twilio').replace(/\/$/, '');
    if (options.reply && !host.responder) {
      host.logger.warn(
        {},
        'twilio: `reply` is on but the server has no `responder`; calls are not answered',
      );
    }
  }

  /** Whether `path` is the media stream's. */
  ownsPath(path: string): boolean {
    return path === this.path;
  }

  get(callSid: string): TwilioCall | undefined {
    return this.list().find((call) => call.callSid === callSid);
  }

  list(): TwilioCall[] {
    return [...this.calls].filter((call) => call.callSid !== undefined);
  }

  ofUser(userId: string): TwilioCall[] {
    return this.list().filter((call) => call.parameters.userId === userId);
  }

  async close(callSid: string): Promise<boolean> {
    const call = this.get(callSid);
    if (!call) return false;
    await call.close();
    return true;
  }

  stats(callSid: string): TwilioCallStats | undefined {
    return this.get(callSid)?.stats();
  }

  /** Takes the media stream's upgrade; `false` when the path is not this endpoint's. */
  handleUpgrade(wss: UpgradeAcceptor, req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== this.path) return false;
    if (!this.signed(req, 'ws', {})) {
      this.host.logger.warn({ path: url.pathname }, 'twilio: upgrade with a bad signature refused');
      refuseUpgrade(socket, new EarshotError('forbidden', 'missing or invalid X-Twilio-Signature'));
      return true;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const call = new TwilioCall(ws, {
        logger: this.host.logger,
        startOptions: this.options.stream ?? {},
        ffmpegPath: this.options.ffmpegPath,
        responder: this.options.reply ? this.host.responder : undefined,
        openSession: (callSid, peer, metadata) => this.host.openSession(callSid, peer, metadata),
        onClosed: (closed) => this.calls.delete(closed),
      });
      this.calls.add(call);
    });
    return true;
  }

  /** Answers the voice webhook (`POST <path>/voice`) with TwiML; `false` for other requests. */
  async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== `${this.path}/voice`) return false;
    try {
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        throw new EarshotError('invalid_request', `${req.method} not allowed here`);
      }
      const form = await readForm(req);
      if (!this.signed(req, 'http', form)) {
        throw new EarshotError('forbidden', 'missing or invalid X-Twilio-Signature');
      }
      const twiml = await this.twiml(req, form);
      res.writeHead(200, {
        'content-type': 'text/xml; charset=utf-8',
        'content-length': Buffer.byteLength(twiml),
      });
      res.end(twiml);
    } catch (error) {
      sendError(res, error);
    }
    return true;
  }

  /** The TwiML that connects a call to this endpoint, built with the `twilio` package. */
  async twiml(req: IncomingMessage, form: Readonly<Record<string, string>>): Promise<string> {
    const VoiceResponse = await loadVoiceResponse();
    const response = new VoiceResponse();
    const mode = this.options.twiml?.mode ?? 'connect';
    // Twilio refuses a stream URL with a query string (error 31920): parameters go inside.
    const stream = (mode === 'connect' ? response.connect() : response.start()).stream({
      url: `${this.baseUrl(req, 'ws')}${this.path}`,
    });
    const parameters = this.options.twiml?.parameters?.(form) ?? { from: form.From ?? '' };
    for (const [name, value] of Object.entries(parameters)) stream.parameter({ name, value });
    return response.toString();
  }

  /** Ends every call (the server is closing). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.calls].map((call) => call.close()));
  }

  private signed(
    req: IncomingMessage,
    scheme: 'ws' | 'http',
    params: Readonly<Record<string, string>>,
  ): boolean {
    const token = this.options.authToken;
    if (!token) return true;
    const signature = req.headers['x-twilio-signature'];
    const given = Array.isArray(signature) ? signature[0] : signature;
    const path = req.url ?? '/';
    // Without a configured public URL, the scheme the request came in on is not known behind a
    // proxy: both are tried (only a holder of the token can sign either).
    const bases = this.options.publicUrl
      ? [this.baseUrl(req, scheme)]
      : [`${scheme}s://${req.headers.host}`, `${scheme}://${req.headers.host}`];
    return bases.some((base) => isValidTwilioSignature(token, given, base + path, params));
  }

  private baseUrl(req: IncomingMessage, scheme: 'ws' | 'http'): string {
    if (this.options.publicUrl) {
      const base = new URL(this.options.publicUrl);
      const secure = base.protocol === 'https:' || base.protocol === 'wss:';
      return `${scheme}${secure ? 's' : ''}://${base.host}${base.pathname.replace(/\/$/, '')}`;
    }
    const forwarded = String(req.headers['x-forwarded-proto'] ?? '')
      .split(',')[0]
      ?.trim();
    const secure =
      forwarded === 'https' || ('encrypted' in req.socket && Boolean(req.socket.encrypted));
    return `${scheme}${secure ? 's' : ''}://${req.headers.host}`;
  }
}

type VoiceResponseClass = new () => {
  connect(): {
    stream(a: { url: string }): { parameter(a: { name: string; value: string }): void };
  };
  start(): { stream(a: { url: string }): { parameter(a: { name: string; value: string }): void } };
  toString(): string;
};

async function loadVoiceResponse(): Promise<VoiceResponseClass> {
  try {
    const twilio = (await import('twilio')) as unknown as {
      default?: { twiml: { VoiceResponse: VoiceResponseClass } };
      twiml?: { VoiceResponse: VoiceResponseClass };
    };
    const VoiceResponse = (twilio.default ?? twilio).twiml?.VoiceResponse;
    if (!VoiceResponse) throw new Error('twilio exports no twiml.VoiceResponse');
    return VoiceResponse;
  } catch (error) {
    throw new EarshotError(
      'internal',
      'the Twilio voice webhook needs "twilio": npm install twilio',
      {
        cause: error,
      },
    );
  }
}

/** Reads a form-encoded body (Twilio's webhooks), at most 64 KiB. */
async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > 64 * 1024) throw new EarshotError('invalid_request', 'request body over 64 KiB');
    chunks.push(chunk as Buffer);
  }
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}
