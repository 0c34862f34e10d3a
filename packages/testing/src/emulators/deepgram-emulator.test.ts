import type { IncomingMessage } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { makeOpusFixtures, type OpusFixtures, randomChunks } from '../opus-fixtures.js';
import {
  DEEPGRAM_NET0001_REASON,
  type DeepgramEmulator,
  parseListenQuery,
  startDeepgramEmulator,
} from './deepgram-emulator.js';
import { scriptedTranscriber } from './transcriber.js';

// Byte-level checks of the emulator with a bare `ws` client: what the SDK cannot show
// (response headers, refusal bodies, the exact order of frames).

const SCRIPT = [{ text: 'hello world', start: 0.2, end: 1.0 }];
const PCM_16K = 'encoding=linear16&sample_rate=16000';
const chunk = (seconds: number) => Buffer.alloc(Math.round(seconds * 32000));

interface Client {
  readonly ws: WebSocket;
  readonly messages: Record<string, unknown>[];
  readonly upgrade: Promise<IncomingMessage>;
  readonly closed: Promise<{ code: number; reason: string }>;
}

let emulator: DeepgramEmulator | undefined;
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  await emulator?.close();
  emulator = undefined;
});

async function start(options: Partial<Parameters<typeof startDeepgramEmulator>[0]> = {}) {
  emulator = await startDeepgramEmulator({ transcriber: scriptedTranscriber(SCRIPT), ...options });
  return emulator;
}

function connect(
  query: string,
  options: { key?: string | null; protocols?: string[] } = {},
): Client {
  if (!emulator) throw new Error('start the emulator first');
  const key = options.key === undefined ? emulator.apiKey : options.key;
  const ws = new WebSocket(`${emulator.endpoint}/v1/listen?${query}`, options.protocols ?? [], {
    headers: key === null ? {} : { Authorization: `Token ${key}` },
  });
  clients.push(ws);
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  ws.on('error', () => {});
  return {
    ws,
    messages,
    upgrade: new Promise((resolve) => ws.once('upgrade', resolve)),
    closed: new Promise((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
    ),
  };
}

/** The HTTP answer to a refused upgrade: status, headers, body. */
function refusal(client: Client) {
  return new Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>(
    (resolve) => {
      client.ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
    },
  );
}

interface Alternative {
  readonly transcript: string;
  readonly words: readonly { punctuated_word?: string; speaker?: number }[];
}
/** The first alternative of a `Results` message. */
const alternativeOf = (message: Record<string, unknown> | undefined) =>
  (message?.channel as { alternatives: Alternative[] } | undefined)?.alternatives[0];

const opened = (client: Client) => new Promise((resolve) => client.ws.once('open', resolve));
const types = (client: Client) => client.messages.map((m) => m.type);

describe('the Deepgram emulator: handshake', () => {
  it('accepts Authorization: Token <key> and answers the upgrade with a dg-request-id', async () => {
    await start();
    const client = connect(PCM_16K);
    const response = await client.upgrade;
    expect(response.headers['dg-request-id']).toBe(emulator?.requestIds[0]);
    expect(emulator?.connections[0]?.headers.authorization).toBe('Token test-key');
  });

  it('accepts the key as the `token, <key>` subprotocols, as browsers send it, and picks `token`', async () => {
    await start();
    const client = connect(PCM_16K, { key: null, protocols: ['token', 'test-key'] });
    await opened(client);
    expect(client.ws.protocol).toBe('token');
  });

  it('refuses a bad key with HTTP 401, a dg-error header and a JSON body', async () => {
    await start();
    const answer = await refusal(connect(PCM_16K, { key: 'wrong' }));
    expect(answer.status).toBe(401);
    expect(answer.headers['dg-error']).toBe('Invalid credentials.');
    expect(answer.headers['dg-request-id']).toBeTruthy();
    expect(JSON.parse(answer.body)).toMatchObject({ err_code: 'INVALID_AUTH' });
    expect(emulator?.connections).toHaveLength(0);
  });

  it('refuses every key while faults.rejectAuth is set', async () => {
    await start({ faults: { rejectAuth: true } });
    expect((await refusal(connect(PCM_16K))).status).toBe(401);
  });

  it('refuses the next connections with HTTP 503 while faults.refuseNext lasts', async () => {
    await start({ faults: { refuseNext: 1 } });
    expect((await refusal(connect(PCM_16K))).status).toBe(503);
    await opened(connect(PCM_16K));
  });

  it('refuses bad parameters with HTTP 400: an encoding it cannot hear, no sample_rate, keywords on Nova-3', async () => {
    await start();
    for (const query of [
      'encoding=opus',
      'encoding=linear16',
      'sample_rate=16000',
      `${PCM_16K}&model=nova-3&keywords=earshot`,
    ]) {
      const answer = await refusal(connect(query));
      expect(answer.status).toBe(400);
      expect(answer.headers['dg-error']).toBeTruthy();
    }
  });

  it('reads the listen options from the query', () => {
    expect(
      parseListenQuery(
        new URLSearchParams(
          'model=nova-2&encoding=mulaw&sample_rate=8000&interim_results=true&vad_events=true&utterance_end_ms=1000&endpointing=false&diarize=true&smart_format=true',
        ),
      ),
    ).toEqual({
      model: 'nova-2',
      format: { encoding: 'mulaw', sampleRate: 8000, channels: 1 },
      containerized: false,
      interimResults: true,
      vadEvents: true,
      utteranceEndMs: 1000,
      endpointing: false,
      diarize: true,
      punctuate: true,
    });
  });
});

describe('the Deepgram emulator: containerized audio', () => {
  let fixtures: OpusFixtures | undefined;
  afterAll(() => fixtures?.cleanup());

  it('decodes a container sent without encoding (WebM/Opus) and transcribes what it holds', async () => {
    fixtures ??= await makeOpusFixtures();
    await start({ transcriber: scriptedTranscriber([{ text: 'hello world', start: 1, end: 2 }]) });
    const client = connect('interim_results=false');
    await opened(client);
    for (const piece of randomChunks(fixtures.liveWebm, 3, 2000)) client.ws.send(piece);
    client.ws.send(JSON.stringify({ type: 'CloseStream' }));
    expect(await client.closed).toMatchObject({ code: 1000 });
    const finals = client.messages.filter((m) => m.type === 'Results' && m.is_final);
    expect(
      finals.map(
        (m) =>
          (m.channel as { alternatives: { transcript: string }[] }).alternatives[0]?.transcript,
      ),
    ).toContain('hello world');
    const metadata = client.messages.find((m) => m.type === 'Metadata');
    expect(metadata?.duration).toBeCloseTo(7.1, 0);
    expect(emulator?.connections[0]?.config).toMatchObject({ containerized: true });
  });

  it('closes with 1008 DATA-0000 when a container is not audio', async () => {
    await start();
    const client = connect('interim_results=false');
    await opened(client);
    client.ws.send(Buffer.from('this is not audio at all, not even close'.repeat(100)));
    client.ws.send(JSON.stringify({ type: 'CloseStream' }));
    const closed = await client.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/^DATA-0000/);
  });
});

describe('the Deepgram emulator: messages', () => {
  it('sends is_final:false partials only with interim_results=true, then the final with speech_final', async () => {
    await start();
    const client = connect(`${PCM_16K}&interim_results=true`);
    await opened(client);
    client.ws.send(chunk(1.5));
    client.ws.send(JSON.stringify({ type: 'CloseStream' }));
    await client.closed;
    const results = client.messages.filter((m) => m.type === 'Results');
    expect(results.map((m) => [m.is_final, m.speech_final])).toEqual([
      [false, false],
      [true, true],
    ]);
    expect(results[1]).toMatchObject({
      channel_index: [0, 1],
      start: 0,
      duration: 1.5,
      channel: {
        alternatives: [
          {
            transcript: 'hello world',
            confidence: 0.9,
            words: [
              { word: 'hello', start: 0.2, confidence: 0.9 },
              { word: 'world', end: 1.0, confidence: 0.9 },
            ],
          },
        ],
      },
      metadata: { request_id: emulator?.requestIds[0], model_info: { name: 'base' } },
    });

    const quiet = connect(PCM_16K);
    await opened(quiet);
    quiet.ws.send(chunk(1.5));
    quiet.ws.send(JSON.stringify({ type: 'CloseStream' }));
    await quiet.closed;
    expect(quiet.messages.filter((m) => m.type === 'Results' && m.is_final === false)).toEqual([]);
  });

  it('sends SpeechStarted with vad_events=true and UtteranceEnd after utterance_end_ms of no words', async () => {
    await start();
    const client = connect(`${PCM_16K}&interim_results=true&vad_events=true&utterance_end_ms=1000`);
    await opened(client);
    client.ws.send(chunk(2.1));
    client.ws.send(JSON.stringify({ type: 'CloseStream' }));
    await client.closed;
    expect(types(client)).toEqual([
      'SpeechStarted',
      'Results',
      'Results',
      'UtteranceEnd',
      'Metadata',
    ]);
    expect(client.messages[0]).toEqual({ type: 'SpeechStarted', channel: [0, 1], timestamp: 0.2 });
    expect(client.messages[3]).toEqual({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: 1 });
  });

  it('answers Finalize with from_finalize results, empty when nothing is pending', async () => {
    await start({ transcriber: scriptedTranscriber([{ text: 'long one', start: 0.2, end: 5 }]) });
    const client = connect(PCM_16K);
    await opened(client);
    client.ws.send(chunk(1));
    client.ws.send(JSON.stringify({ type: 'Finalize' }));
    client.ws.send(JSON.stringify({ type: 'Finalize' }));
    client.ws.send(JSON.stringify({ type: 'CloseStream' }));
    await client.closed;
    const finals = client.messages.filter((m) => m.type === 'Results');
    expect(finals.map((m) => [m.from_finalize, m.speech_final])).toEqual([
      [true, false],
      [true, false],
    ]);
    expect(finals.map((m) => alternativeOf(m)?.transcript)).toEqual(['long one', '']);
  });

  it('answers CloseStream with the last results, then Metadata, then a clean close (1000)', async () => {
    await start({ transcriber: scriptedTranscriber([{ text: 'cut short', start: 0.2, end: 5 }]) });
    const client = connect(PCM_16K);
    await opened(client);
    client.ws.send(chunk(1));
    client.ws.send(JSON.stringify({ type: 'CloseStream' }));
    expect(await client.closed).toEqual({ code: 1000, reason: '' });
    expect(types(client)).toEqual(['Results', 'Metadata']);
    expect(client.messages[1]).toMatchObject({
      type: 'Metadata',
      request_id: emulator?.requestIds[0],
      duration: 1,
      channels: 1,
    });
    expect(emulator?.connections[0]).toMatchObject({
      audioBytes: 32000,
      controlMessages: [{ type: 'CloseStream' }],
      closed: { code: 1000, reason: '' },
    });
  });

  it('treats an empty binary frame as a request to close', async () => {
    await start();
    const client = connect(PCM_16K);
    await opened(client);
    client.ws.send(Buffer.alloc(0));
    expect((await client.closed).code).toBe(1000);
  });

  it('labels words with speakers with diarize=true, and punctuates with smart_format=true', async () => {
    await start();
    const client = connect(`${PCM_16K}&diarize=true&smart_format=true`);
    await opened(client);
    client.ws.send(chunk(1.5));
    client.ws.send(JSON.stringify({ type: 'CloseStream' }));
    await client.closed;
    const alternative = alternativeOf(client.messages[0]);
    expect(alternative?.transcript).toBe('Hello world.');
    expect(alternative?.words.map((w) => [w.punctuated_word, w.speaker])).toEqual([
      ['Hello', 0],
      ['world.', 0],
    ]);
  });
});

describe('the Deepgram emulator: timeouts and faults', () => {
  it('closes an idle stream with 1011 and NET-0001’s reason; KeepAlive (no reply) holds it open', async () => {
    await start({ faults: { idleTimeoutSeconds: 0.2 } });
    const client = connect(PCM_16K);
    await opened(client);
    for (let i = 0; i < 4; i++) {
      client.ws.send(JSON.stringify({ type: 'KeepAlive' }));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(client.messages).toEqual([]);
    expect(await client.closed).toEqual({ code: 1011, reason: DEEPGRAM_NET0001_REASON });
    expect(emulator?.connections[0]?.closed).toEqual({
      code: 1011,
      reason: DEEPGRAM_NET0001_REASON,
    });
  });

  it('drops the socket without a close frame after dropAfterAudioSeconds', async () => {
    await start({ faults: { dropAfterAudioSeconds: 0.5 } });
    const client = connect(PCM_16K);
    await opened(client);
    client.ws.send(chunk(0.6));
    expect((await client.closed).code).toBe(1006);
  });

  it('closes with the given code after closeAfterAudioSeconds, and 1011 after maxStreamSeconds', async () => {
    await start({
      faults: { closeAfterAudioSeconds: { seconds: 0.5, code: 1011, reason: 'boom' } },
    });
    const first = connect(PCM_16K);
    await opened(first);
    first.ws.send(chunk(0.6));
    expect(await first.closed).toEqual({ code: 1011, reason: 'boom' });

    if (emulator) emulator.faults = { maxStreamSeconds: 0.5 };
    const second = connect(PCM_16K);
    await opened(second);
    second.ws.send(chunk(0.6));
    expect((await second.closed).code).toBe(1011);
  });

  it('stops answering after stallAfterAudioSeconds, even CloseStream, while still counting audio', async () => {
    await start({ faults: { stallAfterAudioSeconds: 0.1 } });
    const client = connect(`${PCM_16K}&interim_results=true`);
    await opened(client);
    client.ws.send(chunk(1.5));
    client.ws.send(JSON.stringify({ type: 'CloseStream' }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(client.messages).toEqual([]);
    expect(emulator?.connections[0]?.audioBytes).toBe(48000);
    expect(emulator?.connections[0]?.closed).toBeUndefined();
  });
});
