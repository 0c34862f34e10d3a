/**
 * A small scripted stand-in for the Earshot server, speaking protocol v1 on loopback. It
 * exists only until the real server's end-to-end tests land: it validates everything the
 * client sends with the protocol's own schemas (so a client bug shows up as a protocol error,
 * not a passing test) and plays back what each test scripts.
 */
import type { AddressInfo } from 'node:net';
import {
  type ClientMessage,
  parseClientMessage,
  type ServerMessageInput,
  type StartMessage,
} from '@earshot/protocol';
import { type WebSocket, WebSocketServer } from 'ws';

/** What the server does on each client message; every hook has a sensible default. */
export interface Script {
  /** Default: answer `ready` with the requested format. */
  onStart(conn: ScriptedConnection, message: StartMessage): void;
  /** Default: send `finalsOnStop`, then `closed`, then close with 1000. */
  onStop(conn: ScriptedConnection): void;
  /** Default: nothing. */
  onAudio(conn: ScriptedConnection, chunk: Uint8Array): void;
  /** Transcripts sent (in order) before `closed` by the default `onStop`. */
  finalsOnStop: ServerMessageInput[];
}

/** One accepted socket and everything it received. */
export class ScriptedConnection {
  /** Every text message, parsed and validated, in arrival order. */
  readonly messages: ClientMessage[] = [];
  /** Every binary frame, as received. */
  readonly audioFrames: Uint8Array[] = [];
  /** Text frames that failed the protocol schemas (should stay empty). */
  readonly protocolErrors: string[] = [];
  /** The request URL (path and query), e.g. to check the token. */
  readonly requestUrl: string;
  /** Resolves when the socket has closed on the server side. */
  readonly closed: Promise<{ code: number; reason: string }>;
  isClosed = false;
  #waiters: Array<{ test: () => boolean; resolve: () => void }> = [];

  constructor(
    readonly socket: WebSocket,
    requestUrl: string,
  ) {
    this.requestUrl = requestUrl;
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        this.isClosed = true;
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  /** Sends a server message (validated by the client, not here, so tests may send bad ones). */
  send(message: ServerMessageInput): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Sends a raw text frame, e.g. malformed JSON. */
  sendRaw(text: string): void {
    this.socket.send(text);
  }

  /** Every binary frame concatenated. */
  audio(): Uint8Array {
    return Buffer.concat(this.audioFrames);
  }

  audioBytes(): number {
    return this.audioFrames.reduce((n, f) => n + f.byteLength, 0);
  }

  /** Resolves when `test` holds, re-checked on each received frame (no polling, no sleeps). */
  until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  /** Resolves with the first message of that type (already received, or the next one). */
  async message<T extends ClientMessage['type']>(
    type: T,
  ): Promise<Extract<ClientMessage, { type: T }>> {
    const find = () => this.messages.find((m) => m.type === type);
    await this.until(() => find() !== undefined);
    return find() as Extract<ClientMessage, { type: T }>;
  }

  /** @internal */
  received(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }
}

/** A server on 127.0.0.1, port 0. */
export interface ScriptedServer {
  /** `ws://127.0.0.1:<port>/v1/listen` */
  url: string;
  connections: ScriptedConnection[];
  /** Resolves with the next (or an already) accepted connection. */
  connection(index?: number): Promise<ScriptedConnection>;
  /**
   * Fails if any socket is still open: waits for server-side close events (they trail the
   * client's by a moment), bounded so that a leak fails the test instead of hanging it.
   */
  assertAllClosed(): Promise<void>;
  close(): Promise<void>;
}

export const READY_LIMITS = {
  maxFrameBytes: 65536,
  maxSessionSeconds: 3600,
  idleTimeoutSeconds: 30,
};

/** The `closed` message the default script sends. */
export const SUMMARY = { audioSeconds: 1.5, finalSegments: 2, durationSeconds: 2 };

export async function startScriptedServer(script: Partial<Script> = {}): Promise<ScriptedServer> {
  const full: Script = {
    onStart: (conn, message) =>
      conn.send({
        type: 'ready',
        protocolVersion: 'v1',
        sessionId: 'sess-1',
        resumeToken: 'resume-1',
        audio: message.audio,
        provider: 'scripted',
        resumed: false,
        limits: READY_LIMITS,
      }),
    onStop: (conn) => {
      for (const m of full.finalsOnStop) conn.send(m);
      conn.send({ type: 'closed', reason: 'stopped', summary: SUMMARY });
      conn.socket.close(1000, 'stopped');
    },
    onAudio: () => {},
    finalsOnStop: [],
    ...script,
  };
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/listen' });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const connections: ScriptedConnection[] = [];
  const connectionWaiters: Array<() => void> = [];
  wss.on('connection', (socket, request) => {
    const conn = new ScriptedConnection(socket, request.url ?? '');
    connections.push(conn);
    for (const wake of connectionWaiters.splice(0)) wake();
    socket.on('message', (data, isBinary) => {
      const bytes = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      if (isBinary) {
        conn.audioFrames.push(bytes);
        full.onAudio(conn, bytes);
      } else {
        const parsed = parseClientMessage(bytes.toString('utf8'));
        if (!parsed.ok) {
          conn.protocolErrors.push(`${parsed.error.code}: ${parsed.error.message}`);
        } else {
          conn.messages.push(parsed.message);
          const m = parsed.message;
          if (m.type === 'start') full.onStart(conn, m);
          else if (m.type === 'stop') full.onStop(conn);
          else if (m.type === 'ping') conn.send({ type: 'pong', id: m.id, timestamp: Date.now() });
        }
      }
      conn.received();
    });
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/v1/listen`,
    connections,
    async connection(index = connections.length) {
      while (connections.length <= index) {
        await new Promise<void>((resolve) => connectionWaiters.push(resolve));
      }
      return connections[index] as ScriptedConnection;
    },
    async assertAllClosed() {
      let timer: NodeJS.Timeout | undefined;
      const leak = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const open = connections.filter((c) => !c.isClosed).length;
          reject(new Error(`${open} server-side socket(s) left open`));
        }, 2000);
      });
      try {
        await Promise.race([Promise.all(connections.map((c) => c.closed)), leak]);
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      for (const client of wss.clients) client.terminate();
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

/** A final transcript message for scripts. */
export function final(segmentId: string, text: string, start = 0, end = 1): ServerMessageInput {
  return { type: 'transcript', segmentId, isFinal: true, text, words: [], start, end };
}

/** An interim transcript message for scripts. */
export function interim(segmentId: string, text: string, start = 0, end = 1): ServerMessageInput {
  return { type: 'transcript', segmentId, isFinal: false, text, words: [], start, end };
}

/** A port on 127.0.0.1 nothing listens on (bound, then released). */
export async function refusedUrl(): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const port = (wss.address() as AddressInfo).port;
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  return `ws://127.0.0.1:${port}/v1/listen`;
}
