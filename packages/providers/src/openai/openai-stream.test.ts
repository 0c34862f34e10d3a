import type { EarshotError } from '@earshot/protocol';
import { EventEmitter } from 'eventemitter3';
import { describe, expect, it } from 'vitest';
import type { ProviderTranscript } from '../stt-provider.js';
import { OpenAISttStream, type RealtimeConnection } from './openai-stream.js';

// A fake connection, because the emulator (rightly) never sends malformed events: this is
// the one thing the loopback tests in openai-provider.test.ts cannot reach.
function fakeConnection() {
  const sdk = new EventEmitter();
  const socket = Object.assign(new EventEmitter(), {
    readyState: 1,
    sent: [] as string[],
    send(data: string) {
      socket.sent.push(data);
    },
    terminate() {
      socket.readyState = 3;
    },
  });
  const sent: object[] = [];
  const connection = {
    socket,
    on: (event: string, listener: (...args: unknown[]) => void) => sdk.on(event, listener),
    off: (event: string, listener: (...args: unknown[]) => void) => sdk.off(event, listener),
    send: (event: object) => sent.push(event),
    close: () => socket.emit('close', 1000, Buffer.from('OK')),
  } as unknown as RealtimeConnection;
  const serverSends = (event: object) => sdk.emit('event', event);
  return { connection, socket, serverSends, sent };
}

async function openStream() {
  const fake = fakeConnection();
  const stream = new OpenAISttStream(fake.connection, {
    streamId: 'test',
    session: {
      type: 'transcription',
      audio: {
        input: {
          format: { type: 'audio/pcm', rate: 24000 },
          transcription: { model: 'gpt-4o-transcribe' },
          turn_detection: { type: 'server_vad' },
          noise_reduction: null,
        },
      },
    },
    bytesPerSecond: 48000,
    interimResults: true,
    connectTimeoutMs: 1000,
    endTimeoutMs: 1000,
  });
  fake.serverSends({ type: 'session.created', event_id: 'e0', session: {} });
  fake.serverSends({ type: 'session.updated', event_id: 'e1', session: {} });
  await stream.opened;
  return { stream, ...fake };
}

describe('OpenAISttStream', () => {
  it('reports a server event that fails its schema as a non-fatal provider_error and goes on', async () => {
    const { stream, serverSends } = await openStream();
    const errors: EarshotError[] = [];
    const transcripts: ProviderTranscript[] = [];
    stream.on('error', (e) => errors.push(e));
    stream.on('transcript', (t) => transcripts.push(t));
    serverSends({ type: 'input_audio_buffer.committed', event_id: 'e2', item_id: 7 });
    serverSends({ type: 'input_audio_buffer.committed', event_id: 'e3', item_id: 'a' });
    serverSends({
      type: 'conversation.item.input_audio_transcription.completed',
      event_id: 'e4',
      item_id: 'a',
      content_index: 0,
      transcript: 'still here',
    });
    expect(errors).toEqual([expect.objectContaining({ code: 'provider_error', fatal: false })]);
    expect(transcripts.map((t) => [t.text, t.isFinal])).toEqual([['still here', true]]);
    stream.abort();
  });

  it('sends the configured session once the server has created it, and opens on session.updated', async () => {
    const { stream, sent } = await openStream();
    expect(sent).toEqual([
      expect.objectContaining({
        type: 'session.update',
        session: expect.objectContaining({ type: 'transcription' }),
      }),
    ]);
    stream.abort();
  });

  it('appends audio as base64 in input_audio_buffer.append', async () => {
    const { stream, socket } = await openStream();
    stream.write(new Uint8Array([1, 2, 3]));
    expect(JSON.parse(socket.sent[0]!)).toEqual({
      type: 'input_audio_buffer.append',
      audio: Buffer.from([1, 2, 3]).toString('base64'),
    });
    stream.abort();
  });
});
