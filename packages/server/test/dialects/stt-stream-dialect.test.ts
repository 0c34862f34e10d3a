import { createDeepgramProvider } from '@earshot/providers/deepgram';
import {
  type DeepgramEmulator,
  type JsonSocket,
  openJsonSocket,
  scriptedTranscriber,
  startDeepgramEmulator,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../../src/adapters/node.js';
import { createMemoryStore, sttStreamDialect } from '../../src/index.js';

// Seed 003's frontend against the stt-stream dialect, with the words scripted by the Deepgram
// emulator: a long utterance that Deepgram finalises in pieces comes back as one
// `final_transcript`; a pause starts the next one.
const SCRIPT = [
  {
    text: 'please add milk and eggs and bread to the shopping list for tomorrow',
    start: 0.2,
    end: 3.2,
  },
  { text: 'and call mom', start: 5.0, end: 5.8 },
];
const store = createMemoryStore();
let emulator: DeepgramEmulator;
let server: RunningServer;

beforeAll(async () => {
  emulator = await startDeepgramEmulator({
    transcriber: scriptedTranscriber(SCRIPT),
    finalPieceSeconds: 1,
  });
  server = await listen({
    provider: createDeepgramProvider({ apiKey: emulator.apiKey, baseUrl: emulator.endpoint }),
    store,
    port: 0,
    dialects: [sttStreamDialect()],
  });
});
afterAll(async () => {
  await server.close();
  await emulator.close();
});

type SttMessage = { type: string; transcript?: string; message?: string };
const open = () => openJsonSocket<SttMessage>(`${server.url.replace('http', 'ws')}/stt-stream`);

/** Streams `seconds` of PCM16 16 kHz in quarter seconds, faster than real time. */
async function stream(socket: JsonSocket<SttMessage>, seconds: number) {
  const quarter = new Uint8Array(8000).fill(1);
  for (let q = 0; q < seconds * 4; q++) {
    socket.sendBinary(quarter);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the stt-stream dialect (seed 003)', () => {
  it('configure, linear16 audio, stop: interims, one final_transcript per utterance, then close', async () => {
    const socket = await open();
    socket.sendJson({
      action: 'configure',
      audio_format: { encoding: 'linear16', sample_rate: 16000, channels: 1 },
    });
    await stream(socket, 7);
    socket.sendJson({ action: 'stop' });
    expect((await socket.waitClosed()).code).toBe(1000);
    expect(socket.of('final_transcript').map((m) => m.transcript)).toEqual([
      'please add milk and eggs and bread to the shopping list for tomorrow',
      'and call mom',
    ]);
    expect(socket.of('interim_transcript').length).toBeGreaterThan(0);
    expect(socket.of('error')).toEqual([]);
    expect(socket.unparsed).toEqual([]);
    // Deepgram was asked for what the frontend configured.
    expect(emulator.connections.at(-1)?.query.get('encoding')).toBe('linear16');
    expect(emulator.connections.at(-1)?.query.get('sample_rate')).toBe('16000');
  });

  it('answers malformed control messages with its error shape and goes on', async () => {
    const socket = await open();
    socket.sendText('{not json');
    socket.sendJson({ action: 'configure', audio_format: { encoding: 'flac' } });
    socket.sendJson({
      action: 'configure',
      audio_format: { encoding: 'linear16', sample_rate: 3 },
    });
    socket.sendJson({ action: 'dance' });
    socket.sendJson(['configure']);
    await socket.until(() => socket.of('error').length >= 5);
    expect(socket.of('error').map((m) => m.message)).toEqual([
      'a text frame was not valid JSON',
      'unsupported encoding "flac"',
      'unsupported audio_format: sample_rate 3, channels 1',
      'unknown action "dance"',
      'expected {"action": "configure" | "stop"}',
    ]);
    // Still usable: audio in the default format is transcribed.
    await stream(socket, 4);
    socket.sendJson({ action: 'stop' });
    await socket.waitClosed();
    expect(socket.of('final_transcript')[0]?.transcript).toContain('please add milk');
  });

  it('refuses a second configure once audio has started, and closes at once on a stop with no audio', async () => {
    const socket = await open();
    socket.sendBinary(new Uint8Array(3200));
    socket.sendJson({ action: 'configure', audio_format: { encoding: 'linear16' } });
    await socket.next('error');
    expect(socket.of('error')[0]?.message).toMatch(/already configured/);
    socket.close();

    const idle = await open();
    idle.sendJson({ action: 'stop' });
    expect((await idle.waitClosed()).code).toBe(1000);
  });
});
