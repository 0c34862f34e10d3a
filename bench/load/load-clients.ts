// The load generator: N clients streaming PCM16 16 kHz in real time, each frame stamped, each
// result matched to its frame to time the round trip (client frame → server → provider →
// result → server → client). Two wires: `deepgram` (the bare relay passes Deepgram's own
// protocol through) and `earshot` (Earshot's protocol v1: `start`, `ready`, `transcript`).
//
// The clients are plain `ws` sockets, not @earshot/client: the generator shares the machine's
// two cores with the server and the emulator, so it does the least a client can, and the same
// on both wires (one binary frame out, one JSON text frame parsed per result).

import type { WebSocket } from '@bench-load/ws';
import { parseStampText, stampedFrame } from './frame-stamp.js';
import { LatencyHistogram } from './latency-histogram.js';
import { ws } from './testing-deps.js';

/** Which protocol the clients speak. */
export type Wire = 'deepgram' | 'earshot';

// The query Earshot's Deepgram provider sends for these sessions (see listenQuery in
// @earshot/providers), so the emulator does the same work behind both servers.
const DEEPGRAM_QUERY = new URLSearchParams({
  model: 'nova-3',
  language: 'en-US',
  vad_events: 'true',
  utterance_end_ms: '1000',
  encoding: 'linear16',
  sample_rate: '16000',
  channels: '1',
  interim_results: 'true',
}).toString();

// Send times kept per client, by sequence number: far more frames than are ever in flight.
const RING = 1024;
// Clients per loopback source address: Earshot admits at most 100 connections per IP by
// default, and real clients come from many addresses.
const CLIENTS_PER_ADDRESS = 50;

interface Client {
  readonly key: number;
  readonly socket: WebSocket;
  ready: boolean;
  streaming: boolean;
  /** Next frame's sequence number, and when it is due (performance.now() ms). */
  seq: number;
  due: number;
  readonly sentAt: Float64Array;
  /** Highest sequence number answered; results answered, counted once per frame. */
  lastAnswered: number;
  answered: number;
  error: string | undefined;
  /** Set when the bench dropped it; a close before that is an error. */
  dropped: boolean;
  closed: boolean;
  /** Results that named another session's frame: audio crossed between sessions. */
  crossed: number;
}

/** Options of {@link LoadClients}. */
export interface LoadClientsOptions {
  /** `ws://127.0.0.1:PORT` of the server under test. */
  readonly url: string;
  readonly wire: Wire;
  /** Milliseconds of audio per frame (20 or 100). */
  readonly frameMs: number;
  /** The emulator's key, sent by `deepgram` clients (the relay passes it on). */
  readonly apiKey: string;
}

/** What a group of clients went through. */
export interface ClientsOutcome {
  readonly clients: number;
  /** Clients that connected, streamed, had every frame answered, with no error or early close. */
  readonly held: number;
  readonly framesSent: number;
  readonly framesAnswered: number;
  /** The first few errors, for the report. */
  readonly errors: string[];
  readonly errorCount: number;
  readonly crossed: number;
  /** Seconds from the first connection attempt until every client was ready (or failed). */
  readonly connectSeconds: number;
}

/**
 * A group of load clients. Frames go out from one timer for all clients (a timer each would
 * cost the generator more than the frames), each client on its own phase: the one its
 * connection happened to get ready at.
 */
export class LoadClients {
  readonly latency = new LatencyHistogram();
  /** Latencies are recorded only while this is set (the hold's measurement window). */
  measuring = false;
  /** How late frames went out, ms (whether the generator kept up). */
  readonly sendLag = new LatencyHistogram();
  private readonly clients: Client[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Seconds from the first connection attempt until every client was ready (or failed). */
  private connectSeconds = 0;

  constructor(
    private readonly options: LoadClientsOptions,
    private readonly firstKey: number,
  ) {}

  /**
   * Opens `count` clients at `perSecond`, each streaming as soon as it is ready; resolves once
   * every one is ready or has failed (or `timeoutMs` passed).
   */
  async connect(count: number, perSecond: number, timeoutMs: number): Promise<void> {
    this.timer ??= setInterval(() => this.tick(), Math.max(1, this.options.frameMs / 10));
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      const due = started + (i * 1000) / perSecond;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      this.open(this.firstKey + this.clients.length);
    }
    const deadline = performance.now() + timeoutMs;
    while (
      this.clients.some((c) => !c.ready && c.error === undefined) &&
      performance.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const c of this.clients) {
      if (!c.ready && c.error === undefined) c.error = 'not ready in time';
    }
    this.connectSeconds = (performance.now() - started) / 1000;
  }

  /** Stops sending, and waits up to `timeoutMs` for the results of the frames sent. */
  async quiesce(timeoutMs: number): Promise<void> {
    for (const c of this.clients) c.streaming = false;
    const deadline = performance.now() + timeoutMs;
    const pending = () =>
      this.clients.some((c) => c.error === undefined && !c.closed && c.answered < c.seq);
    while (pending() && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Drops every client at once (no close frame: a network drop); returns when, wall ms each. */
  dropAll(): Map<number, number> {
    clearInterval(this.timer);
    this.timer = undefined;
    const at = new Map<number, number>();
    for (const c of this.clients) {
      c.streaming = false;
      c.dropped = true;
      at.set(c.key, performance.timeOrigin + performance.now());
      c.socket.terminate();
    }
    return at;
  }

  outcome(): ClientsOutcome {
    const errors: string[] = [];
    let held = 0;
    let framesSent = 0;
    let framesAnswered = 0;
    let crossed = 0;
    for (const c of this.clients) {
      framesSent += c.seq;
      framesAnswered += c.answered;
      crossed += c.crossed;
      if (c.error !== undefined) errors.push(`session ${c.key}: ${c.error}`);
      else if (c.answered < c.seq)
        errors.push(`session ${c.key}: ${c.seq - c.answered} frames unanswered`);
      else if (c.ready && c.seq > 0) held++;
    }
    return {
      clients: this.clients.length,
      held,
      framesSent,
      framesAnswered,
      errors: errors.slice(0, 5),
      errorCount: errors.length,
      crossed,
      connectSeconds: this.connectSeconds,
    };
  }

  private open(key: number): void {
    const { url, wire, apiKey } = this.options;
    const socketOptions = {
      localAddress: `127.0.0.${2 + Math.floor(this.clients.length / CLIENTS_PER_ADDRESS)}`,
      perMessageDeflate: false,
      // An all-zero mask, which `ws` then skips applying: masking guards browsers' proxies,
      // not loopback, and the generator's CPU is taken from the servers under test.
      generateMask: (mask: Buffer) => mask.fill(0),
    };
    const socket =
      wire === 'deepgram'
        ? new ws.WebSocket(`${url}/v1/listen?${DEEPGRAM_QUERY}`, {
            ...socketOptions,
            headers: { authorization: `Token ${apiKey}` },
          })
        : new ws.WebSocket(`${url}/v1/listen`, socketOptions);
    const client: Client = {
      key,
      socket,
      ready: false,
      streaming: false,
      seq: 0,
      due: 0,
      sentAt: new Float64Array(RING),
      lastAnswered: -1,
      answered: 0,
      error: undefined,
      dropped: false,
      closed: false,
      crossed: 0,
    };
    this.clients.push(client);
    const begin = () => {
      client.ready = true;
      client.streaming = true;
      client.due = performance.now();
    };
    socket.on('open', () => {
      if (wire === 'deepgram') begin();
      else {
        socket.send(
          JSON.stringify({
            type: 'start',
            audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
            interimResults: true,
          }),
        );
      }
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      const message = JSON.parse(String(data)) as Record<string, unknown>;
      if (wire === 'deepgram') {
        if (message.type !== 'Results') return;
        const channel = message.channel as { alternatives: { transcript: string }[] };
        this.answer(client, channel.alternatives[0]?.transcript ?? '');
        return;
      }
      switch (message.type) {
        case 'ready':
          begin();
          return;
        case 'transcript':
          this.answer(client, message.text as string);
          return;
        case 'error':
          client.error ??= `error ${String(message.code)}: ${String(message.message)}`;
          return;
        case 'closed':
          if (!client.dropped) client.error ??= `closed by the server: ${String(message.reason)}`;
          return;
      }
    });
    socket.on('error', (error) => {
      if (!client.dropped) client.error ??= `socket error: ${error.message}`;
    });
    socket.on('close', (code) => {
      client.closed = true;
      client.streaming = false;
      if (!client.dropped) client.error ??= `closed early (${code})`;
    });
  }

  private answer(client: Client, text: string): void {
    const stamp = parseStampText(text);
    if (stamp === undefined) return; // an empty result (Finalize with nothing pending)
    if (stamp.key !== client.key) {
      client.crossed++;
      return;
    }
    // A flush may repeat the last frame's word in its final: counted once.
    if (stamp.seq <= client.lastAnswered || stamp.seq >= client.seq) return;
    client.lastAnswered = stamp.seq;
    client.answered++;
    if (this.measuring && stamp.seq > client.seq - RING) {
      this.latency.record(performance.now() - client.sentAt[stamp.seq % RING]!);
    }
  }

  private tick(): void {
    const now = performance.now();
    const { frameMs } = this.options;
    for (const c of this.clients) {
      if (!c.streaming) continue;
      // Behind schedule (the loop was busy), a client sends what it has captured meanwhile,
      // as a real one would.
      while (c.due <= now && c.streaming) {
        if (this.measuring) this.sendLag.record(now - c.due);
        c.sentAt[c.seq % RING] = now;
        c.socket.send(stampedFrame(frameMs, c.key, c.seq));
        c.seq++;
        c.due += frameMs;
      }
    }
  }
}
