import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CloseCode, type Logger } from '@earshot/protocol';
import { createDeepgramProvider } from '@earshot/providers/deepgram';
import {
  type DeepgramEmulator,
  scriptedTranscriber,
  startDeepgramEmulator,
} from '@earshot/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ListenOptions, listen, type RunningServer } from '../src/adapters/node.js';
import { createEarshotServer, sttStreamDialect } from '../src/index.js';
import { MAX_FRAGMENTS } from '../src/security/websocket-server.js';
import { WsProbe } from './ws-probe.js';

// The known attacks on `ws` and on Node's HTTP parser, sent byte by byte over raw TCP as an
// attacker would, against a real server: each is refused, the server keeps its memory, and a
// healthy session on the same server goes on to its transcript.
let emulator: DeepgramEmulator;
const servers: RunningServer[] = [];
const peers: RawPeer[] = [];
const PCM16 = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;
const KiB = 1024;
const MiB = 1024 * KiB;

beforeAll(async () => {
  emulator = await startDeepgramEmulator({
    transcriber: scriptedTranscriber([{ text: 'hello world', start: 0.2, end: 0.6 }]),
  });
});
afterEach(async () => {
  for (const peer of peers.splice(0)) peer.socket.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await emulator.close();
});

const provider = () =>
  createDeepgramProvider({ apiKey: emulator.apiKey, baseUrl: emulator.endpoint });

async function serve(options: Partial<ListenOptions> = {}) {
  const server = await listen({ provider: provider(), port: 0, ...options });
  servers.push(server);
  return { server, wsUrl: `${server.url.replace('http', 'ws')}/v1/listen` };
}

/** A started session that can later prove it still works: audio in, a final transcript out. */
async function healthySession(wsUrl: string) {
  const probe = await WsProbe.open(wsUrl);
  probe.sendJson({ type: 'start', audio: PCM16 });
  await probe.next('ready');
  return {
    probe,
    async transcribes() {
      // One second of audio: the scripted utterance (0.2–0.6 s) is final by then.
      for (let i = 0; i < 10; i++) probe.sendBinary(new Uint8Array(3200));
      await probe.until(() => probe.of('transcript').some((t) => t.isFinal));
      expect(probe.of('transcript').find((t) => t.isFinal)?.text).toBe('hello world');
      probe.sendJson({ type: 'stop' });
      expect(await probe.waitClosed()).toMatchObject({ code: CloseCode.Normal });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A raw peer: HTTP and WebSocket frames written by hand.

/** A TCP client that records what the server answers: its HTTP head, then its frames. */
class RawPeer {
  private received = Buffer.alloc(0);
  ended = false;
  private waiters: { test: () => boolean; resolve: () => void }[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (data) => {
      this.received = Buffer.concat([this.received, data]);
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    // The server may reset a connection it refused while the peer still writes.
    socket.on('error', () => {});
  }

  static async connect(server: RunningServer): Promise<RawPeer> {
    const { port } = server.http.address() as { port: number };
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    const peer = new RawPeer(socket);
    peers.push(peer);
    return peer;
  }

  /** Connects and completes a valid WebSocket upgrade on `path`. */
  static async upgraded(server: RunningServer, path = '/v1/listen'): Promise<RawPeer> {
    const peer = await RawPeer.connect(server);
    peer.write(upgradeRequest(path));
    expect(await peer.status()).toBe(101);
    return peer;
  }

  /** Writes `bytes`; resolves once they are handed to the OS (or the connection is gone). */
  write(bytes: string | Buffer): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()));
  }

  /** The status of the server's HTTP answer; 0 if it closed without one. */
  async status(): Promise<number> {
    await this.until(() => this.headEnd() >= 0 || this.ended);
    const match = /^HTTP\/1\.1 (\d{3})/.exec(this.received.toString('latin1'));
    return match ? Number(match[1]) : 0;
  }

  /** The frames the server sent after its upgrade answer. */
  frames(): { opcode: number; payload: Buffer }[] {
    const frames = [];
    let at = this.headEnd() + 4;
    while (at + 2 <= this.received.length) {
      let length = this.received[at + 1]! & 0x7f;
      let start = at + 2;
      if (length === 126) {
        length = this.received.readUInt16BE(at + 2);
        start += 2;
      } else if (length === 127) {
        length = Number(this.received.readBigUInt64BE(at + 2));
        start += 8;
      }
      if (start + length > this.received.length) break;
      frames.push({
        opcode: this.received[at]! & 0x0f,
        payload: this.received.subarray(start, start + length),
      });
      at = start + length;
    }
    return frames;
  }

  /** The code of the server's close frame, once it came (undefined if the socket ended without one). */
  async closeCode(): Promise<number | undefined> {
    await this.until(() => this.closing);
    return this.closeFrame()?.payload.readUInt16BE(0);
  }

  /** Whether the server sent its close frame or the connection is gone. */
  get closing(): boolean {
    return this.ended || this.closeFrame() !== undefined;
  }

  /** Resolves once `test` holds, checked on every byte received and on close. */
  until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  /** Sends a ping and waits for its pong: everything sent before it has been read by then. */
  async sync(): Promise<void> {
    const pongs = () => this.frames().filter((f) => f.opcode === PONG).length;
    const before = pongs();
    await this.write(clientFrame(PING, Buffer.alloc(0)));
    await this.until(() => pongs() > before || this.closing);
  }

  private closeFrame() {
    return this.frames().find((f) => f.opcode === CLOSE);
  }

  private headEnd(): number {
    return this.received.indexOf('\r\n\r\n');
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }
}

const CONTINUATION = 0x0;
const TEXT = 0x1;
const BINARY = 0x2;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** One client frame: masked, as RFC 6455 requires of every frame a client sends. */
function clientFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const head = Buffer.alloc(2 + lengthBytes + 4);
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (lengthBytes === 0) head[1] = 0x80 | length;
  else if (lengthBytes === 2) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(length, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  MASK.copy(head, 2 + lengthBytes);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] = masked[i]! ^ MASK[i % 4]!;
  return Buffer.concat([head, masked]);
}

const UPGRADE_HEADERS = ['Connection: Upgrade', 'Upgrade: websocket'];
const KEY_HEADERS = ['Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13'];

function upgradeRequest(path: string, headers = [...UPGRADE_HEADERS, ...KEY_HEADERS]): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
}

/** `count` distinct two-letter headers (as in the advisory's proof of concept): 7 bytes each. */
function junkHeaders(count: number): string[] {
  const chars = "!#$%&'*+-.0123456789abcdefghijklmnopqrstuvwxyz^_`|~";
  const names: string[] = [];
  for (const a of chars) for (const b of chars) names.push(`${a}${b}: x`);
  return names.slice(0, count);
}

/** Waits for `work`, but no longer than `ms` (a bound for a test to fail by, not a timing). */
async function within(ms: number, work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

// The heap of this process, where the server runs: V8's heap plus the Buffers outside it,
// measured after a full collection so only what is still held counts. (`gc` is exposed at run
// time because the test runner's worker is not started with --expose-gc.)
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function heldBytes(): number {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

// ---------------------------------------------------------------------------------------------

describe('known attacks on ws', () => {
  it('runs on a ws with both fixes: CVE-2024-37890 (8.17.1) and GHSA-96hv-2xvq-fx4p as completed in 8.21.1', () => {
    const { version } = createRequire(import.meta.url)('ws/package.json') as { version: string };
    const [major = 0, minor = 0, patch = 0] = version.split('.').map(Number);
    const atLeast = (want: number[]) =>
      [major, minor, patch].reduce<number>((order, part, i) => order || part - want[i]!, 0) >= 0;
    // 8.21.1, not 8.21.0: it counts empty fragments and lowered maxFragments from 128 Ki.
    expect(atLeast([8, 21, 1]), `ws ${version}`).toBe(true);
  });

  it('answers an upgrade whose WebSocket headers fall past maxHeadersCount (CVE-2024-37890) with 400, on every WebSocket path, and keeps serving', async () => {
    const { server, wsUrl } = await serve({ dialects: [sttStreamDialect()] });
    const healthy = await healthySession(wsUrl);
    // Node's parser keeps the first maxHeadersCount headers and drops the rest, yet still
    // emits `upgrade`: a ws before 8.17.1 then threw reading the missing header and crashed.
    const flood = junkHeaders(server.http.maxHeadersCount || 2000);
    const requests = {
      'no Upgrade, no key': [...flood, ...UPGRADE_HEADERS, ...KEY_HEADERS],
      'no key, no version': [...UPGRADE_HEADERS, ...flood, ...KEY_HEADERS],
    };
    const sessionId = healthy.probe.of('ready')[0]?.sessionId;
    for (const path of ['/v1/listen', '/stt-stream', `/v1/sessions/${sessionId}/events`]) {
      for (const [what, headers] of Object.entries(requests)) {
        const peer = await RawPeer.connect(server);
        await peer.write(upgradeRequest(path, headers));
        // ws answers what it cannot read with 400 and closes; nothing is thrown.
        expect(await peer.status(), `${path}, ${what}`).toBe(400);
        await peer.until(() => peer.ended);
      }
    }
    expect(server.earshot.sessions()).toHaveLength(1);
    // The same server still upgrades, admits and transcribes.
    await healthy.transcribes();
    const next = await healthySession(wsUrl);
    await next.transcribes();
  });

  it.each([
    ['one-byte', Buffer.from(' ')],
    ['empty', Buffer.alloc(0)],
  ])(
    'closes a message split into endless %s fragments (GHSA-96hv-2xvq-fx4p) with 1008 after 1024 of them, holding little memory meanwhile, while another session goes on',
    async (_kind, fragment) => {
      const { server, wsUrl } = await serve();
      const healthy = await healthySession(wsUrl);
      const peer = await RawPeer.upgraded(server);
      const before = heldBytes();
      let peak = 0;
      let sent = 1;
      await peer.write(clientFrame(TEXT, Buffer.from('['), false));
      // Fragments in batches, each followed by a ping whose pong says the server read them.
      // Never FIN. ws before 8.21 had no count limit (one-byte fragments were held until their
      // sum passed maxPayload: 256 Ki of them, ~30 MB), 8.21.0 allowed 128 Ki (~16 MB) and did
      // not count empty ones, 8.21.1 allows 16 Ki (~2 MB); Earshot allows 1024. The cap ends
      // the attack there if nothing closed it.
      const batch = Buffer.concat(
        Array.from({ length: 256 }, () => clientFrame(CONTINUATION, fragment, false)),
      );
      while (!peer.closing && sent < 256 * KiB) {
        await peer.write(batch);
        sent += 256;
        await peer.sync();
        peak = Math.max(peak, heldBytes() - before);
      }
      expect(await peer.closeCode()).toBe(CloseCode.PolicyViolation);
      expect(sent).toBeLessThanOrEqual(MAX_FRAGMENTS + 256);
      // ~130 KB for 1024 fragments of ~128 bytes each; 8 MiB leaves room for noise.
      expect(peak).toBeLessThan(8 * MiB);
      // A client that stops sending on the close frame is let go at once, and what its message
      // held goes with it.
      await peer.until(() => peer.ended);
      expect(heldBytes() - before).toBeLessThan(4 * MiB);
      await healthy.transcribes();
    },
  );

  it('closes a message whose fragments add up past maxFrameBytes with 1009, though each is under it', async () => {
    const { server, wsUrl } = await serve({ limits: { maxFrameBytes: 64 * KiB } });
    const healthy = await healthySession(wsUrl);
    const peer = await RawPeer.upgraded(server);
    // Three 30 KiB fragments of one message: each is under the limit, together they are not.
    for (const [i, fin] of [false, false, true].entries()) {
      await peer.write(clientFrame(i === 0 ? BINARY : CONTINUATION, Buffer.alloc(30 * KiB), fin));
      if (peer.ended) break;
    }
    expect(await peer.closeCode()).toBe(CloseCode.MessageTooBig);
    await healthy.transcribes();
  });

  it('closes a connection that sends no start within startTimeoutSeconds with timeout and 4008, and leaves a started one alone', async () => {
    const { wsUrl } = await serve({ limits: { startTimeoutSeconds: 0.3 } });
    const healthy = await healthySession(wsUrl);
    const silent = await WsProbe.open(wsUrl);
    expect(await silent.next('error')).toMatchObject({ code: 'timeout', fatal: true });
    expect((await silent.waitClosed()).code).toBe(CloseCode.Timeout);
    await healthy.transcribes();
  });
});

describe("Node's HTTP timeouts", () => {
  const SHORT = { headersTimeoutSeconds: 0.5, requestTimeoutSeconds: 1, checkIntervalSeconds: 0.1 };

  /** A slowloris: a request whose headers come one line at a time, never finishing. */
  async function slowloris(server: RunningServer, path: string, headers: string[]) {
    const peer = await RawPeer.connect(server);
    await peer.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    let line = 0;
    const drip = setInterval(() => void peer.write(`X-Drip-${line++}: x\r\n`), 100);
    for (const header of headers) await peer.write(`${header}\r\n`);
    void peer.until(() => peer.ended).then(() => clearInterval(drip));
    return { peer, lines: () => line };
  }

  it('gives listen() safe timeouts by default', async () => {
    const { server } = await serve();
    expect(server.http.headersTimeout).toBe(20_000);
    expect(server.http.requestTimeout).toBe(60_000);
  });

  it('disconnects a client that sends its headers slowly, on a REST route and on the WebSocket path, with 408, while a healthy client is served', async () => {
    const { server, wsUrl } = await serve({ httpTimeouts: SHORT });
    const healthy = await healthySession(wsUrl);
    const attacks = await Promise.all([
      slowloris(server, '/healthz', []),
      slowloris(server, '/v1/listen', [...UPGRADE_HEADERS, ...KEY_HEADERS]),
    ]);
    // 15 s is generous for a 0.5 s timeout checked every 0.1 s; Node's own defaults (60 s,
    // checked every 30 s) would not cut them in that time, nor would the listen() defaults.
    await within(15_000, Promise.all(attacks.map(({ peer }) => peer.until(() => peer.ended))));
    for (const { peer, lines } of attacks) {
      expect(peer.ended).toBe(true);
      expect(await peer.status()).toBe(408);
      expect(lines()).toBeGreaterThan(0); // it was still sending when it was cut
    }
    expect(server.earshot.sessions()).toHaveLength(1);
    // A WebSocket is no longer an HTTP request: the session opened before the request timeout
    // passed (1 s) lives through it.
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await healthy.transcribes();
  });

  it('refuses timeouts that are off, or a headers timeout longer than the request timeout', async () => {
    await expect(
      listen({ provider: provider(), port: 0, httpTimeouts: { headersTimeoutSeconds: 0 } }),
    ).rejects.toMatchObject({ code: 'invalid_request', message: /headersTimeoutSeconds/ });
    await expect(
      listen({ provider: provider(), port: 0, httpTimeouts: { requestTimeoutSeconds: 10 } }),
    ).rejects.toMatchObject({ code: 'invalid_request', message: /must not exceed/ });
  });

  it('warns once, naming the settings, when attached to a server whose timeouts are off', async () => {
    const warnings: { obj: Record<string, unknown>; msg?: string }[] = [];
    const ignore = () => {};
    const logger: Logger = {
      debug: ignore,
      info: ignore,
      error: ignore,
      warn: (obj, msg) => warnings.push({ obj, msg }),
    };
    const earshot = createEarshotServer({ provider: provider(), logger });
    try {
      earshot.attach(createServer()); // Node's defaults: on
      expect(warnings).toEqual([]);
      // `requestTimeout: 0` turns Node's headersTimeout off too.
      const open = createServer({ requestTimeout: 0 });
      expect(open.headersTimeout).toBe(0);
      earshot.attach(open)();
      earshot.attach(open)();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.obj).toEqual({ settings: ['headersTimeout', 'requestTimeout'] });
      expect(warnings[0]?.msg).toMatch(/headersTimeout = 0 and requestTimeout = 0/);
      // The app's server is its own: Earshot leaves the values alone.
      expect(open.requestTimeout).toBe(0);
    } finally {
      await earshot.close();
    }
  });
});
