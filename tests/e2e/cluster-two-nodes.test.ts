import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { EarshotClient } from '@earshot/client';
import type { ServerMessageInput, TranscriptMessage } from '@earshot/protocol';
import {
  type PostgresServer,
  type RedisServer,
  speechWithPauses,
  startPostgres,
  startRedis,
  until,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

// Two demo processes (`npm run demo` with REDIS_URL and a PostgreSQL DATABASE_URL), one Redis:
// the session registry across nodes, the admin list of both, end and broadcast routed to the
// node that runs the session, a client resuming on the other node, and Redis stopping.
const root = join(import.meta.dirname, '..', '..');
const PCM16 = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;

interface Node {
  readonly process: ChildProcess;
  readonly url: string;
  output: string;
}

let postgres: PostgresServer;
let redis: RedisServer;
let nodes: Node[] = [];
let speech: Buffer;

async function startNode(env: Record<string, string>): Promise<Node> {
  const child = spawn(
    join(root, 'node_modules', '.bin', 'tsx'),
    [join(root, 'examples', 'demo', 'src', 'main.ts')],
    {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const node = { process: child, url: '', output: '' };
  child.stderr?.on('data', (d) => (node.output += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      node.output += d;
      const found = /Earshot demo ready: (http:\/\/\S+)/.exec(node.output);
      if (found) resolve(found[1]!);
    });
    child.once('exit', (code) => reject(new Error(`node exited (${code}):\n${node.output}`)));
  });
  return Object.assign(node, { url });
}

beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  const env = {
    DATABASE_URL: await postgres.createDatabase(),
    REDIS_URL: redis.url,
    EARSHOT_TOKEN_SECRET: 'the same on every node',
  };
  nodes = await Promise.all([startNode(env), startNode(env)]);
  speech = await speechWithPauses(3, 0.5);
});

afterAll(async () => {
  for (const node of nodes) {
    if (node.process.exitCode === null) {
      node.process.kill('SIGTERM');
      await once(node.process, 'exit');
    }
  }
  await redis?.stop();
  await postgres?.destroy();
});

const json = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, {
    ...init,
    headers: { 'content-type': 'application/json', ...init?.headers },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

async function connect(url: string, userId: string) {
  const client = new EarshotClient({
    url: `${url.replace('http', 'ws')}/v1/listen`,
    reconnect: false,
  });
  const messages: ServerMessageInput[] = [];
  client.on('broadcast', (m) => messages.push(m));
  client.on('closed', (m) => messages.push(m));
  await client.start({ audio: PCM16, metadata: { userId } });
  return { client, messages, sessionId: client.sessionId! };
}

describe('two server processes sharing one Redis', () => {
  it("list each other's sessions, and route broadcast and end to the node that runs them", async () => {
    const [a, b] = nodes as [Node, Node];
    const ann = await connect(a.url, 'ann');
    const bob = await connect(b.url, 'bob');

    await until(async () => {
      const { body } = await json(`${b.url}/v1/sessions?status=active`);
      return (body.sessions as unknown[]).length === 2;
    }, 10_000);
    const { body: listed } = await json(`${b.url}/v1/sessions?status=active`);
    const nodeOf = Object.fromEntries(
      (listed.sessions as { id: string; live: { node: string } | null }[]).map((s) => [
        s.id,
        s.live?.node,
      ]),
    );
    expect(nodeOf[ann.sessionId]).toBeDefined();
    expect(nodeOf[bob.sessionId]).toBeDefined();
    expect(nodeOf[ann.sessionId]).not.toBe(nodeOf[bob.sessionId]);

    const sent = await json(`${b.url}/v1/broadcast`, {
      method: 'POST',
      body: JSON.stringify({ userId: 'ann', payload: { text: 'the doctor will see you now' } }),
    });
    expect(sent).toEqual({ status: 200, body: { delivered: 1 } });
    await until(() => ann.messages.length === 1, 5000);
    expect(ann.messages[0]).toEqual({
      type: 'broadcast',
      payload: { text: 'the doctor will see you now' },
    });
    expect(bob.messages).toEqual([]);

    const ended = await json(`${a.url}/v1/sessions/${bob.sessionId}/end`, { method: 'POST' });
    expect(ended.status).toBe(200);
    await until(() => bob.messages.some((m) => m.type === 'closed'), 10_000);
    expect(bob.messages.find((m) => m.type === 'closed')).toMatchObject({ reason: 'ended' });
    await ann.client.stop();
  });

  it('resumes a session on the other node: its transcript goes on, every final once', async () => {
    const [a, b] = nodes as [Node, Node];
    const proxy: TcpProxy = await startTcpProxy(Number(new URL(a.url).port));
    try {
      const client = new EarshotClient({
        url: `ws://127.0.0.1:${proxy.port}/v1/listen`,
        reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
      });
      const finals: TranscriptMessage[] = [];
      let resumed = 0;
      client.on('transcript', (t) => t.isFinal && finals.push(t));
      client.on('resumed', () => resumed++);
      await client.start({ audio: PCM16, metadata: { userId: 'carol' } });
      const sessionId = client.sessionId!;
      const frame = 3200;
      const moveAt = Math.floor(speech.byteLength / frame / 2);
      for (let at = 0, k = 0; at < speech.byteLength; at += frame, k++) {
        if (k === moveAt) {
          proxy.retarget(Number(new URL(b.url).port)); // the balancer picks the other node
          await proxy.cut({ losingMs: 200 });
        }
        client.sendAudio(speech.subarray(at, at + frame));
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const closed = await client.stop();
      expect(resumed).toBe(1);
      expect(closed.summary.finalSegments).toBe(finals.length);
      const ids = finals.map((f) => f.segmentId);
      expect(new Set(ids).size).toBe(ids.length);

      // Either node answers with the whole session, from the shared store.
      const { body } = await json(`${a.url}/v1/sessions/${sessionId}`);
      const segments = body.segments as { segmentId: string; seq: number }[];
      expect(segments.map((s) => s.segmentId)).toEqual(ids);
      expect(segments.map((s) => s.seq)).toEqual(segments.map((_, i) => i));
      expect(body.session).toMatchObject({ status: 'ended', endReason: 'stopped' });
      expect((body.metrics as { resumes: number }).resumes).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('go on as single nodes when Redis stops, with a warning and no crash', async () => {
    const [a, b] = nodes as [Node, Node];
    const bob = await connect(b.url, 'bob');
    await redis.stop();
    try {
      const ann = await connect(a.url, 'ann');
      const { status, body } = await json(`${a.url}/v1/sessions?status=active`);
      expect(status).toBe(200);
      expect((body.sessions as { id: string }[]).map((s) => s.id)).toContain(ann.sessionId);
      await until(() => /Redis unreachable/.test(a.output), 10_000);
      await ann.client.stop();
    } finally {
      await redis.start();
    }
    await bob.client.stop();
    expect(nodes.every((n) => n.process.exitCode === null)).toBe(true);
  });
});
