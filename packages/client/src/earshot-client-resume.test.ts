import type { StartMessage } from '@earshot/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { expectCleanTeardown } from '../test/fixtures.js';
import {
  final,
  READY_LIMITS,
  type ScriptedConnection,
  type ScriptedServer,
  startScriptedServer,
} from '../test/scripted-server.js';
import type { ClientState } from './client-state.js';
import { EarshotClient, type EarshotClientOptions } from './earshot-client.js';
import { reconnectDelayMs } from './reconnect-policy.js';

const PCM16 = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;
const FAST = { reconnect: { initialDelayMs: 5, maxDelayMs: 20, attempts: 3 } } as const;

let server: ScriptedServer | undefined;
const clients: EarshotClient[] = [];

function client(url: string, options: Partial<EarshotClientOptions> = {}): EarshotClient {
  const c = new EarshotClient({ url, ...options });
  clients.push(c);
  return c;
}

afterEach(async () => {
  await expectCleanTeardown(clients, server);
  server = undefined;
});

const chunk = (value: number, bytes = 1000) => new Uint8Array(bytes).fill(value);

/** `ready` as the real server answers: a resume gets a fresh token and `resumed: true`. */
function answerReady(conn: ScriptedConnection, message: StartMessage): void {
  conn.send({
    type: 'ready',
    protocolVersion: 'v1',
    sessionId: 'sess-1',
    resumeToken: message.resume ? 'resume-2' : 'resume-1',
    audio: message.audio,
    provider: 'scripted',
    resumed: message.resume !== undefined,
    limits: READY_LIMITS,
  });
}

describe('EarshotClient resume after a dropped connection', () => {
  it('reconnects with the resume token, says what it has, sends again what the server lacks, and counts each final once', async () => {
    let held = 0;
    server = await startScriptedServer({
      onStart: (conn, message) => {
        if (!message.resume) {
          answerReady(conn, message);
          return;
        }
        answerReady(conn, message);
        // The server held 2500 bytes (2.5 chunks) when the first socket died.
        conn.send({ type: 'ack', audioBytes: 2500 });
        conn.send(final('sess-1:1', 'hello')); // sent before the drop too: must not count twice
        conn.send(final('sess-1:2', 'world'));
      },
      onAudio: (conn, bytes) => {
        if (server?.connections.indexOf(conn) !== 0) return;
        held += bytes.byteLength;
        if (held === 1000) conn.send(final('sess-1:1', 'hello'));
        if (held >= 3000) conn.socket.terminate(); // the network drops
      },
    });
    const c = client(server.url, FAST);
    const states: ClientState[] = [];
    c.on('state', (s) => states.push(s));
    const texts: string[] = [];
    c.on('transcript', (t) => texts.push(t.text));
    await c.start({ audio: PCM16 });
    for (let k = 0; k < 3; k++) c.sendAudio(chunk(k));
    await new Promise((resolve) => c.once('resumed', resolve));
    c.sendAudio(chunk(3)); // while the resume completes
    const second = await server.connection(1);
    expect(second.requestUrl).toBe('/v1/listen?token=resume-1');
    const start = await second.message('start');
    expect(start.resume).toEqual({
      sessionId: 'sess-1',
      resumeToken: 'resume-1',
      audioBytes: 3000,
      finals: 1,
    });
    await second.until(() => second.audioBytes() >= 1500);
    // From the server's 2500: the second half of chunk 2, then chunk 3, nothing before.
    expect(Buffer.from(second.audio())).toEqual(
      Buffer.concat([Buffer.alloc(500, 2), Buffer.alloc(1000, 3)]),
    );
    expect(texts).toEqual(['hello', 'world']);
    expect(states).toEqual(['connecting', 'open', 'streaming', 'reconnecting', 'streaming']);
    expect(c.resumeToken).toBe('resume-2');
    await c.stop();
    expect(c.state).toBe('closed');
  });

  it('keeps audio sent while reconnecting and sends stop once resumed', async () => {
    server = await startScriptedServer({
      onStart: (conn, message) => {
        if (!message.resume) {
          answerReady(conn, message);
          // Drops as soon as the session is ready.
          setTimeout(() => conn.socket.terminate(), 5);
          return;
        }
        answerReady(conn, message);
        conn.send({ type: 'ack', audioBytes: 0 });
      },
    });
    const c = client(server.url, FAST);
    await c.start({ audio: PCM16 });
    await new Promise((resolve) => c.once('state', resolve)); // reconnecting
    expect(c.state).toBe('reconnecting');
    c.sendAudio(chunk(7));
    const closed = await c.stop();
    expect(closed.reason).toBe('stopped');
    const second = await server.connection(1);
    expect(Buffer.from(second.audio())).toEqual(Buffer.alloc(1000, 7));
    expect(second.messages.map((m) => m.type)).toEqual(['start', 'stop']);
  });

  it('gives up with connection_failed after its attempts when the server never comes back', async () => {
    server = await startScriptedServer({ onAudio: (conn) => conn.socket.terminate() });
    const url = server.url;
    const c = client(url, FAST);
    await c.start({ audio: PCM16 });
    await server.close(); // nothing listens any more
    c.sendAudio(chunk(1));
    const failed = new Promise((resolve) => c.once('error', resolve));
    // The close of the terminated socket starts the reconnect loop.
    await expect(failed).resolves.toBeDefined();
    await new Promise((resolve) => {
      if (c.state === 'error') resolve(undefined);
      else c.on('state', (s) => s === 'error' && resolve(undefined));
    });
    expect(c.failure).toMatchObject({ code: 'connection_failed' });
    server = undefined;
  });

  it('fails at once when the server refuses the resume (the session is gone)', async () => {
    server = await startScriptedServer({
      onStart: (conn, message) => {
        if (message.resume) {
          conn.send({
            type: 'error',
            code: 'session_ended',
            message: 'this session cannot be resumed here',
            fatal: false,
          });
          return;
        }
        answerReady(conn, message);
      },
      onAudio: (conn) => {
        if (server?.connections.indexOf(conn) === 0) conn.socket.terminate();
      },
    });
    const c = client(server.url, FAST);
    await c.start({ audio: PCM16 });
    const iterator = c.transcripts();
    c.sendAudio(chunk(1));
    await expect(iterator.next()).rejects.toMatchObject({ code: 'session_ended' });
    expect(c.state).toBe('error');
  });

  it('backs off exponentially with equal jitter, capped', () => {
    const options = { initialDelayMs: 100, maxDelayMs: 1000 };
    expect(reconnectDelayMs(0, options, () => 0)).toBe(50);
    expect(reconnectDelayMs(0, options, () => 1)).toBe(100);
    expect(reconnectDelayMs(3, options, () => 0.5)).toBe(600);
    expect(reconnectDelayMs(10, options, () => 1)).toBe(1000);
  });
});
