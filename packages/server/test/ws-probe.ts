import type { ServerMessage } from '@earshot/protocol';
import { WebSocket } from 'ws';

/**
 * A raw protocol-level WebSocket peer for server tests: sends exact frames and records every
 * message and the close, so tests can await what the server says byte for byte.
 */
export class WsProbe {
  readonly messages: ServerMessage[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: { test: () => boolean; resolve: () => void }[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      if (!isBinary) this.messages.push(JSON.parse(String(data)) as ServerMessage);
      this.wake();
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<WsProbe> {
    const socket = new WebSocket(url, { headers });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new WsProbe(socket);
  }

  /** Resolves the status of a refused upgrade. */
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
  async next<T extends ServerMessage['type']>(
    type: T,
    after = 0,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const find = () => this.messages.slice(after).find((m) => m.type === type);
    await this.until(() => find() !== undefined || this.closed !== undefined);
    const found = find();
    if (!found) throw new Error(`socket closed (${this.closed?.code}) before a "${type}" message`);
    return found as Extract<ServerMessage, { type: T }>;
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closed !== undefined);
    return this.closed as { code: number; reason: string };
  }

  of<T extends ServerMessage['type']>(type: T): Extract<ServerMessage, { type: T }>[] {
    return this.messages.filter((m) => m.type === type) as Extract<ServerMessage, { type: T }>[];
  }

  close(): void {
    this.socket.terminate();
  }

  private until(test: () => boolean): Promise<void> {
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
