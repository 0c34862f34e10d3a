import { type ClientOptions, WebSocket } from 'ws';

/** A message with a `type`, as every JSON wire Earshot speaks (and the seeds' dialects) has. */
export interface TypedMessage {
  readonly type: string;
}

/** The messages of `M` whose `type` is `T`; all of `M` when its `type` is just `string`. */
export type OfType<M extends TypedMessage, T> = [Extract<M, { type: T }>] extends [never]
  ? M
  : Extract<M, { type: T }>;

/**
 * A raw WebSocket peer for tests that speak a JSON protocol frame by frame (protocol v1, the
 * seeds' dialects): sends exact frames, records every JSON message and the close, and waits
 * for what the server says.
 */
export class JsonSocket<M extends TypedMessage = TypedMessage & Record<string, unknown>> {
  readonly messages: M[] = [];
  /** Text frames that were not JSON (a dialect should never send one). */
  readonly unparsed: string[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: { test: () => boolean; resolve: () => void }[] = [];

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      if (!isBinary) {
        const text = String(data);
        try {
          this.messages.push(JSON.parse(text) as M);
        } catch {
          this.unparsed.push(text);
        }
      }
      this.wake();
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  /**
   * Resolves once the connection is open. The recording starts at construction: a server that
   * speaks first (its frame may arrive in the same packet as the upgrade answer) is heard.
   */
  async opened(): Promise<this> {
    if (this.socket.readyState !== WebSocket.OPEN) {
      await new Promise<void>((resolve, reject) => {
        this.socket.once('open', () => resolve());
        this.socket.once('error', reject);
      });
    }
    return this;
  }

  /** Resolves the HTTP status of a refused upgrade (rejects if it is accepted). */
  static refusal(url: string, headers: Record<string, string> = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      socket.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        socket.terminate();
      });
      socket.once('open', () => {
        socket.close();
        reject(new Error('upgrade was accepted'));
      });
      socket.once('error', () => {});
    });
  }

  sendJson(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  sendText(text: string): void {
    this.socket.send(text);
  }

  sendBinary(bytes: Uint8Array): void {
    this.socket.send(bytes, { binary: true });
  }

  /** Waits for the next message of `type` after the first `after` messages. */
  async next<T extends M['type']>(type: T, after = 0): Promise<OfType<M, T>> {
    const find = () => this.messages.slice(after).find((m) => m.type === type);
    await this.until(() => find() !== undefined || this.closed !== undefined);
    const found = find();
    if (!found) throw new Error(`socket closed (${this.closed?.code}) before a "${type}" message`);
    return found as OfType<M, T>;
  }

  /** Waits until the server closes the connection. */
  async waitClosed(): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closed !== undefined);
    return this.closed as { code: number; reason: string };
  }

  /** The messages of `type` so far. */
  of<T extends M['type']>(type: T): OfType<M, T>[] {
    return this.messages.filter((m) => m.type === type) as OfType<M, T>[];
  }

  /** Drops the connection without a close handshake. */
  close(): void {
    this.socket.terminate();
  }

  /** Resolves once `test` holds (checked on every message and on close). */
  until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }
}

/** Connects a {@link JsonSocket} to `url` and resolves once it is open. */
export function openJsonSocket<T extends TypedMessage = TypedMessage & Record<string, unknown>>(
  url: string,
  options: ClientOptions = {},
): Promise<JsonSocket<T>> {
  return new JsonSocket<T>(new WebSocket(url, options)).opened();
}
