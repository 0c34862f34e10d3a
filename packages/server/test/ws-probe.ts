import type { ServerMessage } from '@earshot/protocol';
import { JsonSocket } from '@earshot/testing';
import { WebSocket } from 'ws';

/**
 * A raw protocol-level WebSocket peer for server tests: sends exact frames and records every
 * protocol v1 message and the close, so tests can await what the server says byte for byte.
 */
export class WsProbe extends JsonSocket<ServerMessage> {
  static async open(url: string, headers: Record<string, string> = {}): Promise<WsProbe> {
    return new WsProbe(new WebSocket(url, { headers })).opened();
  }
}
