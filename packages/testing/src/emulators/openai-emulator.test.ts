import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type OpenAIEmulator, startOpenAIEmulator } from './openai-emulator.js';
import { scriptedTranscriber } from './transcriber.js';

// The emulator on the wire, with a bare `ws` client: what the provider tests cannot see.

let emulator: OpenAIEmulator | undefined;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await emulator?.close();
  emulator = undefined;
});

async function start(options: { completeOutOfOrder?: boolean } = {}) {
  emulator = await startOpenAIEmulator({
    transcriber: scriptedTranscriber([
      { text: 'one two', start: 0.2, end: 0.6 },
      { text: 'three', start: 1.0, end: 1.2 },
    ]),
    ...options,
  });
  return emulator;
}

type ServerEvent = Record<string, unknown> & { type: string; event_id: string };

function connect(
  emulator: OpenAIEmulator,
  auth: { key?: string; browser?: boolean } = {},
): { ws: WebSocket; events: ServerEvent[]; next(type: string): Promise<ServerEvent> } {
  const url = `${emulator.endpoint.replace('https', 'wss')}/realtime?intent=transcription`;
  const key = auth.key ?? emulator.apiKey;
  const ws = auth.browser
    ? new WebSocket(url, ['realtime', `openai-insecure-api-key.${key}`], { ca: emulator.ca })
    : new WebSocket(url, { ca: emulator.ca, headers: { Authorization: `Bearer ${key}` } });
  sockets.push(ws);
  ws.on('error', () => {}); // a refused upgrade reports one; the test checks the status
  const events: ServerEvent[] = [];
  const waiters: { type: string; resolve: (e: ServerEvent) => void }[] = [];
  ws.on('message', (data) => {
    const event = JSON.parse(data.toString()) as ServerEvent;
    events.push(event);
    for (const w of [...waiters]) {
      if (event.type === w.type) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(event);
      }
    }
  });
  return {
    ws,
    events,
    next: (type) => new Promise((resolve) => waiters.push({ type, resolve })),
  };
}

const send = (ws: WebSocket, event: object) => ws.send(JSON.stringify(event));
const append = (ws: WebSocket, seconds: number) =>
  send(ws, {
    type: 'input_audio_buffer.append',
    audio: Buffer.alloc(Math.round(seconds * 48000)).toString('base64'),
  });

describe('startOpenAIEmulator', () => {
  it('accepts the browser subprotocol form of the key and echoes `realtime`', async () => {
    const emulator = await start();
    const client = connect(emulator, { browser: true });
    const created = await client.next('session.created');
    expect(client.ws.protocol).toBe('realtime');
    expect(created.session).toMatchObject({ type: 'transcription' });
  });

  it('refuses a bad key with HTTP 401 at the upgrade', async () => {
    const emulator = await start();
    const client = connect(emulator, { key: 'sk-wrong' });
    const status = await new Promise<number>((resolve) =>
      client.ws.on('unexpected-response', (_req, res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }),
    );
    expect(status).toBe(401);
    expect(emulator.connections).toEqual([]);
  });

  it('answers session.update with session.updated carrying the full effective config', async () => {
    const emulator = await start();
    const client = connect(emulator);
    await client.next('session.created');
    send(client.ws, {
      type: 'session.update',
      session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcmu' } } } },
    });
    const updated = await client.next('session.updated');
    expect(updated.session).toMatchObject({
      type: 'transcription',
      audio: { input: { format: { type: 'audio/pcmu' }, turn_detection: { type: 'server_vad' } } },
    });
    expect(emulator.connections[0]!.config).toEqual(updated.session);
  });

  it('answers an invalid client event with an error event naming it, and stays open', async () => {
    const emulator = await start();
    const client = connect(emulator);
    await client.next('session.created');
    send(client.ws, { type: 'response.create', event_id: 'mine' });
    const error = await client.next('error');
    expect(error.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'invalid_value',
      param: 'type',
      event_id: 'mine',
    });
    client.ws.send('not json');
    expect((await client.next('error')).error).toMatchObject({ code: 'invalid_json' });
    send(client.ws, { type: 'session.update', session: { type: 'transcription' } });
    await client.next('session.updated');
  });

  it('refuses to commit less than 100 ms of audio, naming the client event', async () => {
    const emulator = await start();
    const client = connect(emulator);
    await client.next('session.created');
    append(client.ws, 0.05);
    send(client.ws, { type: 'input_audio_buffer.commit', event_id: 'commit-1' });
    expect((await client.next('error')).error).toMatchObject({
      code: 'input_audio_buffer_commit_empty',
      event_id: 'commit-1',
    });
  });

  it('with server VAD, sends speech_started, speech_stopped, committed, deltas and completed per utterance, each with an event_id', async () => {
    const emulator = await start();
    const client = connect(emulator);
    await client.next('session.created');
    const second = new Promise<void>((resolve) => {
      client.ws.on('message', () => {
        if (client.events.filter((e) => e.type.endsWith('completed')).length === 2) resolve();
      });
    });
    append(client.ws, 2);
    await second;
    const first = client.events.filter((e) => e.item_id === client.events[1]!.item_id);
    expect(first.map((e) => e.type)).toEqual([
      'input_audio_buffer.speech_started',
      'conversation.item.input_audio_transcription.delta',
      'input_audio_buffer.speech_stopped',
      'input_audio_buffer.committed',
      'conversation.item.input_audio_transcription.delta',
      'conversation.item.input_audio_transcription.completed',
    ]);
    expect(first.map((e) => e.delta).filter(Boolean)).toEqual(['one', ' two']);
    expect(first[0]).toMatchObject({ audio_start_ms: 200 });
    expect(first[2]).toMatchObject({ audio_end_ms: 600 });
    expect(first[3]).toMatchObject({ previous_item_id: null });
    expect(first[5]).toMatchObject({ transcript: 'one two', content_index: 0 });
    expect(client.events.every((e) => typeof e.event_id === 'string')).toBe(true);
    expect(new Set(client.events.map((e) => e.event_id)).size).toBe(client.events.length);
  });

  it('with completeOutOfOrder, completes an item after its successor; committed still chains them', async () => {
    const emulator = await start({ completeOutOfOrder: true });
    const client = connect(emulator);
    await client.next('session.created');
    const done = new Promise<void>((resolve) => {
      client.ws.on('message', () => {
        if (client.events.filter((e) => e.type.endsWith('completed')).length === 2) resolve();
      });
    });
    append(client.ws, 2);
    await done;
    const committed = client.events.filter((e) => e.type === 'input_audio_buffer.committed');
    const completed = client.events.filter((e) => e.type.endsWith('completed'));
    expect(committed[1]!.previous_item_id).toBe(committed[0]!.item_id);
    expect(completed.map((e) => e.transcript)).toEqual(['three', 'one two']);
  });

  it('with turn_detection null, commits one item per client commit', async () => {
    const emulator = await start();
    const client = connect(emulator);
    await client.next('session.created');
    send(client.ws, {
      type: 'session.update',
      session: { type: 'transcription', audio: { input: { turn_detection: null } } },
    });
    await client.next('session.updated');
    append(client.ws, 2);
    send(client.ws, { type: 'input_audio_buffer.commit' });
    const completed = await client.next('conversation.item.input_audio_transcription.completed');
    expect(completed.transcript).toBe('one two three');
    expect(client.events.some((e) => e.type.startsWith('input_audio_buffer.speech'))).toBe(false);
  });
});
