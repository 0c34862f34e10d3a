import { CloseCode, type ServerMessage } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import { readWavPcm16, speechFixtures, until } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { listen, type RunningServer } from '../src/adapters/node.js';
import { WsProbe } from './ws-probe.js';

// GET /v1/sessions/:id/events: a WebSocket for observers that carries every message a live
// session sends, after a first frame with its state, and closes when the session is over.
const PCM16 = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;
const provider = createLocalProvider({ maxConcurrentStreams: 2 });
let server: RunningServer;
let wsBase: string;
let speech: Buffer;

beforeAll(async () => {
  server = await listen({ provider, port: 0, nodeId: 'node-a' });
  wsBase = server.url.replace('http', 'ws');
  const [fixture] = await speechFixtures();
  speech = (await readWavPcm16(fixture!.path)).pcm;
});

afterAll(async () => {
  await server.close();
  await provider.close();
});

async function started(metadata: Record<string, string> = {}) {
  const probe = await WsProbe.open(`${wsBase}/v1/listen`);
  probe.sendJson({ type: 'start', audio: PCM16, metadata });
  const ready = await probe.next('ready');
  return { probe, sessionId: ready.sessionId };
}

/**
 * An observer socket that records every frame from the first: the state frame is written with
 * the upgrade's answer, so it can arrive before `open` is handled (WsProbe listens only after).
 */
class Observer {
  readonly messages: ServerMessage[] = [];
  closed: { code: number; reason: string } | undefined;
  private wake: () => void = () => {};

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)) as ServerMessage);
      this.wake();
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  static async open(url: string): Promise<Observer> {
    const observer = new Observer(new WebSocket(url));
    await new Promise<void>((resolve, reject) => {
      observer.socket.once('open', () => resolve());
      observer.socket.once('error', reject);
    });
    return observer;
  }

  async next<T extends ServerMessage['type']>(
    type: T,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const find = () => this.messages.find((m) => m.type === type);
    await this.until(() => find() !== undefined || this.closed !== undefined);
    const found = find();
    if (!found) throw new Error(`observer closed (${this.closed?.code}) before a "${type}"`);
    return found as Extract<ServerMessage, { type: T }>;
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closed !== undefined);
    return this.closed!;
  }

  of<T extends ServerMessage['type']>(type: T): Extract<ServerMessage, { type: T }>[] {
    return this.messages.filter((m) => m.type === type) as Extract<ServerMessage, { type: T }>[];
  }

  close(): void {
    this.socket.close();
  }

  private async until(test: () => boolean): Promise<void> {
    while (!test()) await new Promise<void>((resolve) => (this.wake = resolve));
  }
}

/** The status and JSON body of a refused upgrade. */
function refusal(url: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        socket.terminate();
      });
    });
    socket.once('open', () => {
      socket.close();
      reject(new Error('upgrade was accepted'));
    });
    socket.once('error', () => {});
  });
}

const observersListening = () => server.earshot.events.listenerCount('session_message');

describe('GET /v1/sessions/:id/events', () => {
  it("sends the session's state first, then its transcripts as its client gets them, then its closed, then closes with 1000", async () => {
    const { probe, sessionId } = await started({ userId: 'u-watched' });
    const observer = await Observer.open(`${wsBase}/v1/sessions/${sessionId}/events`);
    expect(await observer.next('session_info')).toMatchObject({
      sessionId,
      status: 'active',
      provider: 'local',
      node: 'node-a',
      metadata: { userId: 'u-watched' },
    });
    for (let at = 0; at < speech.length; at += 3200) {
      probe.sendBinary(speech.subarray(at, Math.min(at + 3200, speech.length)));
    }
    await observer.next('ack');
    probe.sendJson({ type: 'stop' });
    const closed = await observer.next('closed');
    expect(closed).toMatchObject({ type: 'closed', reason: 'stopped' });
    expect(await observer.waitClosed()).toEqual({
      code: CloseCode.Normal,
      reason: 'session ended (stopped)',
    });

    await probe.next('closed');
    const finals = (p: WsProbe | Observer) =>
      p
        .of('transcript')
        .filter((t) => t.isFinal)
        .map((t) => [t.segmentId, t.text]);
    expect(finals(probe).length).toBeGreaterThan(0);
    expect(finals(observer)).toEqual(finals(probe));
    expect(observer.messages[0]?.type).toBe('session_info');
    expect(observer.messages.at(-1)).toEqual(probe.messages.at(-1));
  });

  it('lets several observers watch one session, and each stops listening when it closes', async () => {
    const baseline = observersListening();
    const { probe, sessionId } = await started();
    const first = await Observer.open(`${wsBase}/v1/sessions/${sessionId}/events`);
    const second = await Observer.open(`${wsBase}/v1/sessions/${sessionId}/events`);
    await first.next('session_info');
    await second.next('session_info');
    expect(observersListening()).toBe(baseline + 2);

    first.close();
    await until(() => observersListening() === baseline + 1);
    probe.sendJson({ type: 'ping', id: 'seen' });
    expect(await second.next('pong')).toMatchObject({ id: 'seen' });

    const ended = await fetch(`${server.url}/v1/sessions/${sessionId}/end`, { method: 'POST' });
    expect(ended.status).toBe(200);
    expect(await second.next('closed')).toMatchObject({ reason: 'ended' });
    expect((await second.waitClosed()).code).toBe(CloseCode.Normal);
    await until(() => observersListening() === baseline);
    await probe.waitClosed();
  });

  it('refuses an unknown session with 404 session_not_found before accepting the socket', async () => {
    expect(await refusal(`${wsBase}/v1/sessions/nope/events`)).toEqual({
      status: 404,
      body: { error: { code: 'session_not_found', message: 'no live session nope' } },
    });
  });

  it('refuses a session that has ended with 409 session_ended', async () => {
    const { probe, sessionId } = await started();
    probe.sendJson({ type: 'stop' });
    await probe.waitClosed();
    expect(await refusal(`${wsBase}/v1/sessions/${sessionId}/events`)).toMatchObject({
      status: 409,
      body: { error: { code: 'session_ended' } },
    });
  });

  it('refuses a malformed session id with 400', async () => {
    expect(await refusal(`${wsBase}/v1/sessions/%E0%A4%A/events`)).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request' } },
    });
  });

  it('closes with 1000 when the session ends without a closed message (its client went away)', async () => {
    const own = await listen({ provider, port: 0, limits: { resumeGraceSeconds: 0 } });
    try {
      const probe = await WsProbe.open(`${own.url.replace('http', 'ws')}/v1/listen`);
      probe.sendJson({ type: 'start', audio: PCM16 });
      const { sessionId } = await probe.next('ready');
      const observer = await Observer.open(
        `${own.url.replace('http', 'ws')}/v1/sessions/${sessionId}/events`,
      );
      await observer.next('session_info');
      probe.close();
      // Found by the observer's periodic check (every 5 s): the session sent nothing more.
      expect(await observer.waitClosed()).toEqual({
        code: CloseCode.Normal,
        reason: 'session ended',
      });
      expect(observer.of('closed')).toEqual([]);
    } finally {
      await own.close();
    }
  });

  it('closes its observers with 1001 when the server shuts down', async () => {
    const own = await listen({ provider, port: 0 });
    const probe = await WsProbe.open(`${own.url.replace('http', 'ws')}/v1/listen`);
    probe.sendJson({ type: 'start', audio: PCM16 });
    const { sessionId } = await probe.next('ready');
    const observer = await Observer.open(
      `${own.url.replace('http', 'ws')}/v1/sessions/${sessionId}/events`,
    );
    await observer.next('session_info');
    await own.close();
    expect(await observer.next('closed')).toMatchObject({ reason: 'shutdown' });
    expect((await observer.waitClosed()).code).toBe(CloseCode.GoingAway);
  });
});
