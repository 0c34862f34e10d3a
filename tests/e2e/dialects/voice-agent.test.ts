import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JsonSocket, parseWavPcm16 } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DialectDemo,
  expectWords,
  MAX_WER,
  paced,
  pcmFrames,
  type Recording,
  readRecording,
  resampled,
  SPOKEN,
  startDialectDemo,
} from '../../support/dialect-speech.js';

// Seed 004's interview frontend, from the seed's text alone, against the demo server (local
// engine, offline responder spoken by espeak-ng): `/ws/{client_id}`, JSON `audio_chunk`s of
// base64 PCM16 at 48 kHz with `isSpeaking`, the true → false edge ends the answer; back come
// `user_transcript` and then `ai_response` with text and base64 audio to play.

type AgentMessage =
  | { type: 'user_transcript'; text: string }
  | { type: 'ai_response'; text: string; audio?: string }
  | { type: 'error'; message: string };

// The frontend's capture posts 4096 samples (85 ms at 48 kHz) a time.
const FRAME_SAMPLES = 4096;

let demo: DialectDemo;
let recording: Recording;
let recording48k: Recording;
const dir = mkdtempSync(join(tmpdir(), 'earshot-voice-agent-'));

beforeAll(async () => {
  demo = await startDialectDemo();
  recording = await readRecording(SPOKEN);
  recording48k = await readRecording(await resampled(SPOKEN, 48000, dir), SPOKEN);
});

afterAll(async () => {
  await demo?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The reply's speech: a WAV that decodes, its length and loudness. */
function spoken(answer: { audio?: string }) {
  const wav = parseWavPcm16(Buffer.from(answer.audio ?? '', 'base64'));
  const samples = new Int16Array(wav.pcm.buffer, wav.pcm.byteOffset, wav.pcm.byteLength / 2);
  const rms = Math.sqrt(samples.reduce((sum, s) => sum + s * s, 0) / samples.length);
  return { seconds: samples.length / wav.format.sampleRate, rms };
}

/** The user's answer, then what the agent said back. */
async function turn(socket: JsonSocket<AgentMessage>, after = 0) {
  const heard = await socket.next('user_transcript', after);
  const answer = await socket.next('ai_response', after);
  return { heard, answer };
}

describe('seed 004 frontend on /ws/{client_id} of the demo, with real speech', () => {
  it('speaks, stops speaking, and hears user_transcript with its words, then ai_response with speech', async () => {
    const socket = await demo.open<AgentMessage>('/ws/interview-1');
    const frames = pcmFrames(recording48k.pcm, FRAME_SAMPLES);
    // Speaking for the recording, then a second of silence with isSpeaking false (the edge).
    const silence = pcmFrames(Buffer.alloc(48000 * 2), FRAME_SAMPLES);
    await paced([...frames, ...silence], FRAME_SAMPLES / 48000, (frame, n) =>
      socket.sendJson({
        type: 'audio_chunk',
        chunk: Buffer.from(frame).toString('base64'),
        isSpeaking: n < frames.length,
      }),
    );
    const { heard, answer } = await turn(socket);
    const wer = expectWords(recording.reference, heard.text, MAX_WER.pcm);
    console.log(`voice-agent WER ${wer.toFixed(3)}; reply: ${answer.text}`);
    // The offline responder echoes what it heard; its speech decodes and is not silence.
    expect(answer.text).toContain(heard.text.split(' ')[0]);
    const speech = spoken(answer);
    expect(speech.seconds).toBeGreaterThan(1);
    expect(speech.rms).toBeGreaterThan(300);
    expect(socket.of('error')).toEqual([]);
    expect(socket.messages.map((m) => m.type)).toEqual(['user_transcript', 'ai_response']);
    socket.close();
  });

  it('answers the legacy send_for_AI_processing (a whole 16 kHz WAV) the same way', async () => {
    const socket = await demo.open<AgentMessage>('/ws/interview-2');
    const { readFile } = await import('node:fs/promises');
    socket.sendJson({
      type: 'send_for_AI_processing',
      audio: (await readFile(SPOKEN)).toString('base64'),
    });
    const { heard, answer } = await turn(socket);
    expectWords(recording.reference, heard.text, MAX_WER.pcm);
    expect(spoken(answer).rms).toBeGreaterThan(300);
    socket.close();
  });

  it('answers malformed messages with its error shape and stays usable', async () => {
    const socket = await demo.open<AgentMessage>('/ws/interview-3');
    socket.sendText('{"type": "audio_chunk"');
    socket.sendJson({ type: 'audio_chunk', chunk: '%%%', isSpeaking: true });
    socket.sendJson({ type: 'hello' });
    await socket.until(() => socket.of('error').length >= 3);
    for (const error of socket.of('error')) expect(error.message).toEqual(expect.any(String));
    expect(await demo.refusal('/ws/not%20an%20id')).toBe(400);
    socket.close();
  });
});
