import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ServerMessage, TranscriptMessage } from '@earshot/protocol';
import { createSqliteStore } from '@earshot/server';
import { JsonSocket, openJsonSocket, readWavPcm16, speechFixtures } from '@earshot/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ShutdownServerConfig } from '../support/shutdown-server.js';

// SIGTERM to a real server process (tests/support/shutdown-server.ts, shutdownOnSignals around
// listen()): it refuses new work while it drains, ends each session the way `stop` does, and
// exits within its deadline even when a provider never answers the flush. Timings are loose on
// purpose (a shared, loaded machine): a process only has to be done well within its deadline.
const dir = mkdtempSync(join(tmpdir(), 'earshot-shutdown-'));
const script = fileURLToPath(new URL('../support/shutdown-server.ts', import.meta.url));
const tsx = createRequire(import.meta.url).resolve('tsx');
const PCM16_16K = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;
const FRAME = 3200; // 100 ms of PCM16 16 kHz
// Room beyond a deadline for a loaded machine to notice the exit.
const SLACK_MS = 10_000;
let speech: Buffer;
let server: ServerProcess | undefined;

beforeAll(async () => {
  const [a, b] = await speechFixtures();
  speech = Buffer.concat([(await readWavPcm16(a!.path)).pcm, (await readWavPcm16(b!.path)).pcm]);
});
afterEach(async () => {
  if (server?.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  server = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface LogLine {
  readonly level: string;
  readonly msg?: string;
}

/** The server process, its URL, its log and its exit. */
interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly wsUrl: string;
  readonly log: LogLine[];
  /** Resolves once a log line with `msg` has been printed. */
  logged(msg: string): Promise<void>;
  /** The exit code, and when the process exited (`Date.now()`). */
  readonly exited: Promise<{ code: number | null; at: number }>;
}

async function startServer(config: ShutdownServerConfig): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    ['--conditions=@earshot/source', '--import', tsx, script, JSON.stringify(config)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = once(child, 'exit').then(([code]) => ({
    code: code as number | null,
    at: Date.now(),
  }));
  const log: LogLine[] = [];
  const waiters: { msg: string; resolve: () => void }[] = [];
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    void exited.then(({ code }) =>
      reject(new Error(`the server exited (${code}) before it listened`)),
    );
    lines.on('line', (text) => {
      const line = JSON.parse(text) as LogLine & { url?: string };
      if (line.url) {
        resolve(line.url);
        return;
      }
      log.push(line);
      for (const w of waiters.filter((w) => w.msg === line.msg)) w.resolve();
    });
  });
  return {
    child,
    url,
    wsUrl: `${url.replace('http', 'ws')}/v1/listen`,
    log,
    exited,
    logged: (msg) =>
      log.some((l) => l.msg === msg)
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ msg, resolve })),
  };
}

const isFinal = (m: ServerMessage): m is TranscriptMessage => m.type === 'transcript' && m.isFinal;

/** Opens a canonical session with interims on. */
async function startSession(target: ServerProcess): Promise<JsonSocket<ServerMessage>> {
  const client = await openJsonSocket<ServerMessage>(target.wsUrl);
  client.sendJson({ type: 'start', audio: PCM16_16K, interimResults: true });
  await client.next('ready');
  return client;
}

/**
 * Sends `speech` at about real time until `enough` holds, then stops: the client is left
 * mid-utterance. Resolves how many bytes it sent.
 */
async function streamUntil(client: JsonSocket<ServerMessage>, enough: (sent: number) => boolean) {
  let sent = 0;
  while (!enough(sent)) {
    if (sent >= speech.byteLength) throw new Error('the speech ran out first');
    client.sendBinary(speech.subarray(sent, sent + FRAME));
    sent += FRAME;
    await sleep(100);
  }
  return sent;
}

describe('SIGTERM to a server process', () => {
  it('drains: the utterance in flight gets its final, then closed (shutdown) and 1001; new work is refused with 503 while it drains; it exits 0 with every final stored', async () => {
    const storePath = join(dir, 'drain.db');
    const deadlineMs = 30_000;
    server = await startServer({ provider: 'local', storePath, deadlineMs, holdEndHook: true });
    const client = await startSession(server);
    const sessionId = client.of('ready')[0]!.sessionId;

    // Mid-utterance: an interim whose utterance has no final yet, after a second of speech.
    // No audio follows, so the recogniser hears no pause: only the drain can finish it.
    let inFlight: TranscriptMessage | undefined;
    const pending = () =>
      client
        .of('transcript')
        .find(
          (t) =>
            !t.isFinal &&
            t.text !== '' &&
            !client.messages.some((m) => isFinal(m) && m.segmentId === t.segmentId),
        );
    await streamUntil(client, (sent) => {
      if (sent >= 32_000) inFlight = pending();
      return inFlight !== undefined;
    });
    const finalsBefore = client.messages.filter(isFinal).length;
    const signalledAt = Date.now();
    server.child.kill('SIGTERM');

    const closed = await client.next('closed');
    expect(closed.reason).toBe('shutdown');
    expect((await client.waitClosed()).code).toBe(1001);
    const finals = client.messages.filter(isFinal);
    expect(finals.length).toBeGreaterThan(finalsBefore);
    const last = client.messages.findIndex(
      (m) => isFinal(m) && m.segmentId === inFlight!.segmentId,
    );
    expect(last, 'the final of the utterance in flight').toBeGreaterThanOrEqual(0);
    // `closed` is the last word, after every final.
    expect(client.messages.indexOf(closed)).toBe(client.messages.length - 1);

    // The session has ended; the server still drains (its end hook is held open).
    await server.logged('end hook waiting');
    expect(await JsonSocket.refusal(server.wsUrl)).toBe(503);
    const minted = await fetch(`${server.url}/v1/sessions`, { method: 'POST', body: '{}' });
    expect(minted.status).toBe(503);
    expect(await minted.json()).toMatchObject({ error: { code: 'capacity' } });
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { error: { message: string } }).error.message).toMatch(
      /draining/,
    );

    server.child.stdin!.write('go\n');
    const { code, at } = await server.exited;
    expect(code).toBe(0);
    expect(at - signalledAt).toBeLessThan(deadlineMs);
    expect(server.log.some((l) => l.msg === 'shut down')).toBe(true);

    const store = await createSqliteStore({ path: storePath });
    try {
      const record = await store.getSession(sessionId);
      expect(record).toMatchObject({ status: 'ended', endReason: 'shutdown' });
      const stored = await store.getSegments(sessionId);
      for (const final of finals) {
        expect(stored.find((s) => s.segmentId === final.segmentId)?.text).toBe(final.text);
      }
    } finally {
      await store.close();
    }
  }, 120_000);

  it('exits with code 1 at its deadline when a provider never answers the flush', async () => {
    const deadlineMs = 4000;
    server = await startServer({
      provider: 'stalled-deepgram',
      storePath: join(dir, 'hang.db'),
      deadlineMs,
      stopTimeoutSeconds: 600, // nothing gives up on the provider before the deadline
    });
    const client = await startSession(server);
    // Past the emulator's stall (2.5 s), with the utterance's interim in hand.
    await streamUntil(client, (sent) => sent >= 3 * 32_000 && client.of('transcript').length > 0);
    const signalledAt = Date.now();
    server.child.kill('SIGTERM');

    const { code, at } = await server.exited;
    expect(code).toBe(1);
    expect(at - signalledAt).toBeGreaterThanOrEqual(deadlineMs - 100);
    expect(at - signalledAt).toBeLessThan(deadlineMs + SLACK_MS);
    expect(server.log.map((l) => l.msg)).toContain(
      'shutdown did not finish within its deadline; exiting',
    );
    // Cut off: the session never finished, so its client was never told `closed`.
    await client.waitClosed();
    expect(client.of('closed')).toEqual([]);
  }, 120_000);

  it('ends a session whose provider never answers the flush after stopTimeoutSeconds, with closed (shutdown) and 1001, and exits 0 within the deadline', async () => {
    const storePath = join(dir, 'stop-timeout.db');
    const deadlineMs = 30_000;
    server = await startServer({
      provider: 'stalled-deepgram',
      storePath,
      deadlineMs,
      stopTimeoutSeconds: 2,
    });
    const client = await startSession(server);
    const sessionId = client.of('ready')[0]!.sessionId;
    await streamUntil(client, (sent) => sent >= 3 * 32_000 && client.of('transcript').length > 0);
    const signalledAt = Date.now();
    server.child.kill('SIGTERM');

    expect((await client.next('closed')).reason).toBe('shutdown');
    // Not before the provider was given its stopTimeoutSeconds.
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(2000 - 100);
    expect((await client.waitClosed()).code).toBe(1001);
    const { code, at } = await server.exited;
    expect(code).toBe(0);
    expect(at - signalledAt).toBeLessThan(deadlineMs);

    const store = await createSqliteStore({ path: storePath });
    try {
      expect(await store.getSession(sessionId)).toMatchObject({
        status: 'ended',
        endReason: 'shutdown',
      });
    } finally {
      await store.close();
    }
  }, 120_000);
});
