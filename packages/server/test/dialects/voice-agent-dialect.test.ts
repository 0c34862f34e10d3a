import { createDeepgramProvider } from '@earshot/providers/deepgram';
import {
  type DeepgramEmulator,
  encodeWavPcm16,
  JsonSocket,
  type OpenAIChatEmulator,
  openJsonSocket,
  parseWavPcm16,
  scriptedTranscriber,
  startDeepgramEmulator,
  startOpenAIChatEmulator,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../../src/adapters/node.js';
import { createMemoryStore, createOpenAIResponder, voiceAgentDialect } from '../../src/index.js';

// Seed 004's interview frontend against the voice-agent dialect: base64 `audio_chunk`s with
// `isSpeaking`, the true → false edge ends an utterance, and each utterance is answered with
// `user_transcript` then `ai_response` (text + speech) by the OpenAI responder, through the real
// `openai` SDK against the chat/speech emulator. Words are scripted by the Deepgram emulator.
const SCRIPT = [
  { text: 'tell me about your last project', start: 0.3, end: 1.8 },
  { text: 'what did you learn', start: 3.0, end: 4.0 },
];
let speech: DeepgramEmulator;
let chat: OpenAIChatEmulator;
let server: RunningServer;
let slowReplies = false;

beforeAll(async () => {
  speech = await startDeepgramEmulator({ transcriber: scriptedTranscriber(SCRIPT) });
  chat = await startOpenAIChatEmulator({
    reply: async (messages) => {
      // Slow enough that the next utterance arrives while this one is answered.
      if (slowReplies) await new Promise((resolve) => setTimeout(resolve, 800));
      return `you said: ${messages.at(-1)?.content}`;
    },
  });
  server = await listen({
    provider: createDeepgramProvider({ apiKey: speech.apiKey, baseUrl: speech.endpoint }),
    store: createMemoryStore(),
    port: 0,
    dialects: [voiceAgentDialect()],
    responder: createOpenAIResponder({ apiKey: chat.apiKey, baseURL: chat.endpoint }),
  });
});
afterAll(async () => {
  await server.close();
  await chat.close();
  await speech.close();
});

type AgentMessage = { type: string; text?: string; audio?: string; message?: string };
const open = (clientId = 'candidate-7') =>
  openJsonSocket<AgentMessage>(`${server.url.replace('http', 'ws')}/ws/${clientId}`);

/** Sends `seconds` of PCM16 48 kHz mono as 100 ms base64 chunks, a little faster than real time. */
async function speak(socket: JsonSocket<AgentMessage>, seconds: number, isSpeaking: boolean) {
  const chunk = Buffer.alloc(9600, 1).toString('base64');
  for (let i = 0; i < seconds * 10; i++) {
    socket.sendJson({ type: 'audio_chunk', chunk, isSpeaking });
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

/** The WAV of an `ai_response`, decoded; throws if it is not one. */
function replyAudio(message: AgentMessage) {
  const wav = parseWavPcm16(Buffer.from(message.audio ?? '', 'base64'));
  const samples = new Int16Array(wav.pcm.buffer, wav.pcm.byteOffset, wav.pcm.byteLength / 2);
  const rms = Math.sqrt(samples.reduce((sum, s) => sum + s * s, 0) / samples.length);
  return {
    sampleRate: wav.format.sampleRate,
    seconds: samples.length / wav.format.sampleRate,
    rms,
  };
}

describe('the voice-agent dialect (seed 004)', () => {
  it('cuts an utterance at isSpeaking true → false and answers user_transcript, then ai_response with speech', async () => {
    const socket = await open();
    await speak(socket, 2.2, true);
    await speak(socket, 0.3, false);
    const transcript = await socket.next('user_transcript');
    expect(transcript.text).toBe(SCRIPT[0]?.text);
    const answer = await socket.next('ai_response');
    expect(answer.text).toBe(`you said: ${SCRIPT[0]?.text}`);
    const audio = replyAudio(answer);
    expect(audio.seconds).toBeGreaterThan(0.5);
    expect(audio.rms).toBeGreaterThan(300);
    expect(socket.messages.map((m) => m.type)).toEqual(['user_transcript', 'ai_response']);
    socket.close();
  });

  it('answers utterances one at a time and in order, keeping the audio that arrives meanwhile', async () => {
    slowReplies = true;
    try {
      const socket = await open('candidate-8');
      await speak(socket, 2.2, true);
      await speak(socket, 0.5, false);
      // The first reply is still being made while the second utterance is spoken.
      await speak(socket, 1.6, true);
      await speak(socket, 0.5, false);
      await socket.until(() => socket.of('ai_response').length === 2);
      expect(socket.messages.map((m) => `${m.type}: ${m.text}`)).toEqual([
        `user_transcript: ${SCRIPT[0]?.text}`,
        `ai_response: you said: ${SCRIPT[0]?.text}`,
        `user_transcript: ${SCRIPT[1]?.text}`,
        `ai_response: you said: ${SCRIPT[1]?.text}`,
      ]);
      // The second turn was asked with the first as history.
      const last = chat.connections.filter((c) => c.path === '/v1/chat/completions').at(-1);
      expect(JSON.stringify(last?.body)).toContain(`you said: ${SCRIPT[0]?.text}`);
      socket.close();
    } finally {
      slowReplies = false;
    }
  });

  it('takes the legacy send_for_AI_processing with a whole WAV of another rate', async () => {
    const socket = await open('legacy-1');
    // 2.2 s of 16 kHz: the session starts at the WAV's own rate.
    const wav = encodeWavPcm16(new Uint8Array(70400).fill(1), {
      encoding: 'pcm16',
      sampleRate: 16000,
      channels: 1,
    });
    socket.sendJson({ type: 'send_for_AI_processing', audio: Buffer.from(wav).toString('base64') });
    expect((await socket.next('user_transcript')).text).toBe(SCRIPT[0]?.text);
    expect((await socket.next('ai_response')).text).toContain(SCRIPT[0]?.text);
    expect(speech.connections.at(-1)?.query.get('sample_rate')).toBe('16000');
    socket.close();
  });

  it('answers bad input and a failing responder with its error shape, and goes on', async () => {
    const socket = await open('candidate-9');
    socket.sendText('{oops');
    socket.sendJson({ type: 'audio_chunk', chunk: 'not base64!', isSpeaking: true });
    socket.sendJson({ type: 'audio_chunk', isSpeaking: true });
    socket.sendJson({
      type: 'send_for_AI_processing',
      audio: Buffer.from('hello').toString('base64'),
    });
    socket.sendJson({ type: 'dance' });
    await socket.until(() => socket.of('error').length >= 5);
    expect(socket.of('error').map((e) => e.message)).toEqual([
      'Invalid JSON message',
      'audio_chunk: "chunk" is not valid base64',
      'audio_chunk needs "chunk": base64 audio (may be empty)',
      'send_for_AI_processing needs "audio": a base64 WAV file',
      'Unknown message type: "dance"',
    ]);
    chat.faults = { failNext: { status: 500, message: 'the model is overloaded' } };
    await speak(socket, 2.2, true);
    await speak(socket, 0.3, false);
    await socket.next('user_transcript');
    await socket.until(() => socket.of('error').length >= 6);
    expect(socket.of('error')[5]?.message).toMatch(/^AI processing failed: /);
    socket.close();
  });

  it('says so when an utterance had no words', async () => {
    const socket = await open('quiet-1');
    // Before the first scripted word.
    socket.sendJson({
      type: 'audio_chunk',
      chunk: Buffer.alloc(9600).toString('base64'),
      isSpeaking: true,
    });
    socket.sendJson({ type: 'audio_chunk', chunk: '', isSpeaking: false });
    expect((await socket.next('error')).message).toBe('No speech detected');
    socket.close();
  });

  it('refuses a client id that needs escaping', async () => {
    expect(await JsonSocket.refusal(`${server.url.replace('http', 'ws')}/ws/a%20b`)).toBe(400);
  });
});
