import { createCommandDetector } from '@earshot/commands';
import { createDeepgramProvider } from '@earshot/providers/deepgram';
import {
  type DeepgramEmulator,
  JsonSocket,
  makeOpusFixtures,
  type OpusFixtures,
  openJsonSocket,
  type ScriptedUtterance,
  scriptedTranscriber,
  startDeepgramEmulator,
  type Transcriber,
} from '@earshot/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../../src/adapters/node.js';
import {
  type ConversationDialectOptions,
  conversationDialect,
  createMemoryStore,
  type Store,
} from '../../src/index.js';

// Seed 000's frontend (a clinical scribe that once talked to a relay of OpenAI's Realtime API)
// against the conversation dialect. The Deepgram emulator scripts the words (it decodes the
// WebM the frontend records), and the server detects voice commands in them.
const SCRIPT: readonly ScriptedUtterance[] = [
  { text: 'sully add a note patient is stable and comfortable today', start: 0.3, end: 2.4 },
  { text: 'no new complaints this morning', start: 3.8, end: 5.2 },
];
// A second conversation's words: no wake word, so no command.
const OTHER: readonly ScriptedUtterance[] = [
  { text: 'the left knee looks swollen', start: 0.4, end: 1.8 },
  { text: 'range of motion is reduced', start: 3.0, end: 4.2 },
];
const DELTA = 'conversation.item.input_audio_transcription.delta';
const COMPLETED = 'conversation.item.input_audio_transcription.completed';

/** What the dialect sends, loosely: each test checks the fields it is about. */
interface ConversationEvent {
  type: string;
  conversationId?: string;
  item_id?: string;
  delta?: string;
  transcript?: string;
  name?: string;
  phase?: string;
  result?: unknown;
  error?: { type: string; code: string; message: string };
  [field: string]: unknown;
}

const commands = {
  detector: createCommandDetector({
    wakeWords: ['sully'],
    commands: [{ name: 'add_note', patterns: ['add [a] note {text}'] }],
  }),
  onCommand: (match: { slots: Record<string, unknown> }) => ({ noted: match.slots.text }),
};
// The app's own conversations: `unknown-…` it has never heard of; `broken-…` it cannot look up.
const resolveConversation: ConversationDialectOptions['resolveConversation'] = (id) => {
  if (id.startsWith('unknown')) return undefined;
  if (id.startsWith('broken')) throw new Error('the conversations database is down');
  return { clinic: 'north' };
};

let fixtures: OpusFixtures;
let emulator: DeepgramEmulator;
const closing: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  fixtures = await makeOpusFixtures();
  emulator = await startDeepgramEmulator({ transcriber: scriptedTranscriber(SCRIPT) });
});
afterEach(async () => {
  await Promise.all(closing.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await emulator.close();
  fixtures.cleanup();
});

/** A server with the dialect and voice commands, on `on` (the shared emulator by default). */
async function serve(
  options: ConversationDialectOptions = { resolveConversation },
  on: DeepgramEmulator = emulator,
  store: Store = createMemoryStore(),
) {
  const server: RunningServer = await listen({
    provider: createDeepgramProvider({ apiKey: on.apiKey, baseUrl: on.endpoint }),
    store,
    port: 0,
    dialects: [conversationDialect(options)],
    commands,
  });
  closing.push(server);
  const ws = `${server.url.replace('http', 'ws')}/transcription`;
  return {
    store,
    open: (query: string) => openJsonSocket<ConversationEvent>(`${ws}${query}`),
    refusal: (query: string) => JsonSocket.refusal(`${ws}${query}`),
    post: (path: string, body: unknown) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
  };
}

const pace = () => new Promise((resolve) => setTimeout(resolve, 20));

/**
 * Sends the recording as `MediaRecorder` streams it with a 250 ms timeslice at 32 kbit/s:
 * ~1 KB chunks, the first one opening with the EBML header. Faster than real time.
 */
async function sendWebm(socket: JsonSocket<ConversationEvent>): Promise<number> {
  const bytes = fixtures.liveWebm;
  for (let at = 0; at < bytes.byteLength; at += 1000) {
    socket.sendBinary(bytes.subarray(at, at + 1000));
    await pace();
  }
  return bytes.byteLength;
}

/** Sends `seconds` of PCM16 16 kHz (an AudioWorklet's frames) in quarter seconds. */
async function sendPcm(socket: JsonSocket<ConversationEvent>, seconds: number): Promise<void> {
  const quarter = new Uint8Array(8000).fill(1);
  for (let q = 0; q < seconds * 4; q++) {
    socket.sendBinary(quarter);
    await pace();
  }
}

/** Stops the conversation as the seed's frontend does; resolves the close code. */
async function stop(socket: JsonSocket<ConversationEvent>): Promise<number> {
  socket.sendJson({ type: 'stop' });
  return (await socket.waitClosed()).code;
}

const transcripts = (socket: JsonSocket<ConversationEvent>) =>
  socket.of(COMPLETED).map((m) => m.transcript);
// Earshot's segment ids are `<sessionId>:<n>`: an item names the session it was heard in.
const sessionOf = (itemId: string | undefined) => itemId?.slice(0, itemId.lastIndexOf(':'));

describe('the conversation dialect (seed 000)', () => {
  it('takes WebM/Opus chunks as MediaRecorder sends them: deltas, completed finals, a voice command, then stop closes 1000', async () => {
    const { open } = await serve();
    const before = emulator.connections.length;
    const socket = await open('?conversationId=conv-1');
    const sent = await sendWebm(socket);
    expect(await stop(socket)).toBe(1000);

    const completed = socket.of(COMPLETED);
    expect(completed.map((m) => m.transcript)).toEqual(SCRIPT.map((s) => s.text));
    expect(completed[0]).toEqual({
      type: COMPLETED,
      conversationId: 'conv-1',
      item_id: expect.any(String),
      content_index: 0,
      transcript: SCRIPT[0]?.text,
      start: expect.any(Number),
      end: expect.any(Number),
      confidence: expect.any(Number),
    });
    // Each item's deltas, appended, are the start of its completed text, and come before it.
    for (const final of completed) {
      const deltas = socket.of(DELTA).filter((d) => d.item_id === final.item_id);
      expect(deltas.length).toBeGreaterThan(0);
      const shown = deltas.map((d) => d.delta).join('');
      expect(shown.length).toBeGreaterThan(0);
      expect(final.transcript?.startsWith(shown)).toBe(true);
      expect(socket.messages.indexOf(deltas.at(-1)!)).toBeLessThan(socket.messages.indexOf(final));
      expect(deltas[0]).toMatchObject({ conversationId: 'conv-1', content_index: 0 });
    }

    const decided = socket.of('command').filter((c) => c.phase !== 'tentative');
    expect(decided).toEqual([
      {
        type: 'command',
        conversationId: 'conv-1',
        name: 'add_note',
        phase: 'confirmed',
        slots: { text: 'patient is stable and comfortable today' },
        item_id: completed[0]?.item_id,
      },
      {
        type: 'command',
        conversationId: 'conv-1',
        name: 'add_note',
        phase: 'executed',
        slots: { text: 'patient is stable and comfortable today' },
        result: { noted: 'patient is stable and comfortable today' },
        item_id: completed[0]?.item_id,
      },
    ]);
    expect(socket.of('input_audio_buffer.speech_started')[0]).toEqual({
      type: 'input_audio_buffer.speech_started',
      conversationId: 'conv-1',
      audio_start_ms: expect.any(Number),
    });
    // The pause after the first utterance is longer than Deepgram's utterance_end_ms.
    expect(socket.of('input_audio_buffer.speech_stopped')[0]).toMatchObject({
      conversationId: 'conv-1',
      audio_end_ms: expect.any(Number),
    });
    expect(socket.of('error')).toEqual([]);
    expect(socket.unparsed).toEqual([]);
    // Only the frontend's event names: nothing of Earshot's own protocol leaks.
    expect(socket.messages.map((m) => m.type)).not.toContain('transcript');
    expect(socket.messages.map((m) => m.type)).not.toContain('ready');

    // Deepgram got the container itself, byte for byte, and was told nothing of its format.
    const upstream = emulator.connections[before]!;
    expect(upstream.config).toMatchObject({ containerized: true });
    expect(upstream.query.get('encoding')).toBeNull();
    expect(upstream.audioBytes).toBe(sent);
  });

  it('keeps two conversations apart: each socket gets only its own words and commands', async () => {
    // Each upstream connection hears the next script in turn: one conversation is dictating a
    // note, the other examining a knee.
    let opened = 0;
    const scripts = [SCRIPT, OTHER];
    const alternating: Transcriber = {
      open: (format) => scriptedTranscriber(scripts[opened++ % 2]!).open(format),
    };
    const twoVoices = await startDeepgramEmulator({ transcriber: alternating });
    closing.push(twoVoices);
    const { open, store } = await serve({ resolveConversation }, twoVoices);
    const a = await open('?conversationId=ward-a');
    const b = await open('?conversationId=ward-b');
    await Promise.all([sendWebm(a), sendPcm(b, 6)]);
    expect(await Promise.all([stop(a), stop(b)])).toEqual([1000, 1000]);

    const [dictating, examining] = transcripts(a)[0] === SCRIPT[0]?.text ? [a, b] : [b, a];
    expect(transcripts(dictating)).toEqual(SCRIPT.map((s) => s.text));
    expect(transcripts(examining)).toEqual(OTHER.map((s) => s.text));
    expect(dictating.of('command').map((c) => c.phase)).toContain('executed');
    expect(examining.of('command')).toEqual([]);
    for (const [socket, id] of [
      [a, 'ward-a'],
      [b, 'ward-b'],
    ] as const) {
      expect(socket.messages.every((m) => m.conversationId === id)).toBe(true);
      // Every item it got was heard in its own session, which holds exactly its words.
      const sessions = new Set(socket.messages.map((m) => sessionOf(m.item_id)));
      sessions.delete(undefined);
      expect(sessions.size).toBe(1);
      const [sessionId] = [...sessions];
      const segments = await store.getSegments(sessionId!);
      expect(segments.map((s) => s.text)).toEqual(transcripts(socket));
      expect((await store.getSession(sessionId!))?.metadata).toMatchObject({
        conversationId: id,
      });
    }
    expect(sessionOf(a.of(COMPLETED)[0]?.item_id)).not.toBe(sessionOf(b.of(COMPLETED)[0]?.item_id));
  });

  it('is the very session POST /v1/sessions minted under that id, with its metadata; a later reconnect is a new session of the same conversation', async () => {
    const { open, post, store } = await serve();
    const minted = await post('/v1/sessions', {
      metadata: { userId: 'dr-lee', patientId: 'p-17' },
    });
    expect(minted.status).toBe(201);
    const { sessionId } = (await minted.json()) as { sessionId: string };

    const first = await open(`?conversationId=${sessionId}`);
    await sendPcm(first, 3);
    expect(await stop(first)).toBe(1000);
    expect(sessionOf(first.of(COMPLETED)[0]?.item_id)).toBe(sessionId);
    expect(first.of(COMPLETED)[0]?.conversationId).toBe(sessionId);
    expect(await store.getSession(sessionId)).toMatchObject({
      status: 'ended',
      metadata: {
        userId: 'dr-lee',
        patientId: 'p-17',
        conversationId: sessionId,
        dialect: 'conversation',
      },
    });

    // Its record is ended now: the app's resolver vouches for the reconnect instead.
    const again = await open(`?conversationId=${sessionId}`);
    await sendPcm(again, 3);
    expect(await stop(again)).toBe(1000);
    const second = sessionOf(again.of(COMPLETED)[0]?.item_id);
    expect(second).toMatch(/^[0-9a-f-]{36}$/);
    expect(second).not.toBe(sessionId);
    expect((await store.getSession(second!))?.metadata).toEqual({
      clinic: 'north',
      conversationId: sessionId,
      dialect: 'conversation',
    });
  });

  it('opens a minted id once when two connections race for it: the other is a new session of that conversation', async () => {
    // A store that answers as slowly as a remote database: both claims are in flight at once.
    const memory = createMemoryStore();
    const remote: Store = {
      ...memory,
      getSession: async (id) => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return memory.getSession(id);
      },
    };
    const { open, post } = await serve({ resolveConversation }, emulator, remote);
    const minted = await post('/v1/sessions', { metadata: { userId: 'dr-lee' } });
    const { sessionId } = (await minted.json()) as { sessionId: string };
    const both = await Promise.all([
      open(`?conversationId=${sessionId}`),
      open(`?conversationId=${sessionId}`),
    ]);
    await Promise.all(both.map((socket) => sendPcm(socket, 3)));
    expect(await Promise.all(both.map(stop))).toEqual([1000, 1000]);
    const sessions = both.map((socket) => sessionOf(socket.of(COMPLETED)[0]?.item_id));
    expect(sessions).toContain(sessionId);
    expect(new Set(sessions).size).toBe(2);
    const other = sessions.find((id) => id !== sessionId);
    expect((await memory.getSession(other!))?.metadata).toMatchObject({
      clinic: 'north',
      conversationId: sessionId,
    });
  });

  it('refuses the upgrade with 400 for a missing or malformed conversationId, 404 for one the app does not know, 503 when it cannot look it up', async () => {
    const { refusal } = await serve();
    expect(await refusal('')).toBe(400);
    expect(await refusal('?conversationId=')).toBe(400);
    expect(await refusal('?conversationid=conv-1')).toBe(400);
    expect(await refusal('?conversationId=bad%20id')).toBe(400);
    expect(await refusal('?conversationId=-leading-dash')).toBe(400);
    expect(await refusal(`?conversationId=${'a'.repeat(129)}`)).toBe(400);
    expect(await refusal('?conversationId=unknown-42')).toBe(404);
    expect(await refusal('?conversationId=broken-42')).toBe(503);
  });

  it('answers malformed text frames in its error shape and goes on; ping gets pong; raw PCM16 as the first frame is taken as PCM', async () => {
    const { open } = await serve();
    const before = emulator.connections.length;
    const socket = await open('?conversationId=conv-pcm');
    socket.sendText('{not json');
    socket.sendJson({ type: 'dance' });
    socket.sendJson({ nope: true });
    socket.sendJson(['stop']);
    await socket.until(() => socket.of('error').length >= 4);
    expect(socket.of('error')[0]).toEqual({
      type: 'error',
      conversationId: 'conv-pcm',
      error: {
        type: 'earshot_error',
        code: 'invalid_json',
        message: 'a text frame was not valid JSON',
      },
    });
    expect(socket.of('error').map((e) => e.error?.code)).toEqual([
      'invalid_json',
      'unknown_message_type',
      'invalid_message',
      'invalid_message',
    ]);
    socket.sendJson({ type: 'ping' });
    expect(await socket.next('pong')).toEqual({ type: 'pong' });

    await sendPcm(socket, 3);
    expect(await stop(socket)).toBe(1000);
    expect(transcripts(socket)[0]).toBe(SCRIPT[0]?.text);
    const upstream = emulator.connections[before]!;
    expect(upstream.query.get('encoding')).toBe('linear16');
    expect(upstream.query.get('sample_rate')).toBe('16000');
  });

  it('accepts any well-formed conversationId without a resolver, and closes at once on a stop before any audio', async () => {
    const { open, store } = await serve({});
    const socket = await open('?conversationId=room:7.b_c');
    await sendPcm(socket, 3);
    expect(await stop(socket)).toBe(1000);
    const sessionId = sessionOf(socket.of(COMPLETED)[0]?.item_id);
    expect((await store.getSession(sessionId!))?.metadata).toEqual({
      conversationId: 'room:7.b_c',
      dialect: 'conversation',
    });

    const silent = await open('?conversationId=room-8');
    expect(await stop(silent)).toBe(1000);
    expect(silent.messages).toEqual([]);
  });
});
