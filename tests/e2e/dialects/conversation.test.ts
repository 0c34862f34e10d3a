import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type JsonSocket,
  makeOpusFixtures,
  type OpusFixtures,
  synthesizeSpeech,
  toLiveWebm,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DialectDemo,
  expectWords,
  MAX_WER,
  mediaRecorderBlobs,
  type Recording,
  readRecording,
  SPOKEN,
  sendPaced,
  startDialectDemo,
} from '../../support/dialect-speech.js';

// Seed 000's clinical-scribe frontend, from the seed's text alone, against the demo server:
// a conversation started over HTTP, then `/transcription?conversationId=…` carrying
// `MediaRecorder`'s WebM/Opus chunks; back come the transcription events its backend used to
// forward from OpenAI (`…input_audio_transcription.delta` / `.completed`) and the voice
// commands the demo detects ("Sully, …"), to that conversation's socket only.

type ConversationMessage = { type: string; conversationId?: string } & Record<string, unknown>;
const COMPLETED = 'conversation.item.input_audio_transcription.completed';
const TIMESLICE_MS = 250;

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'earshot-conversation-'));
let demo: DialectDemo;
let recording: Recording;
let opus: OpusFixtures;

beforeAll(async () => {
  [demo, recording, opus] = await Promise.all([
    startDialectDemo(),
    readRecording(SPOKEN),
    makeOpusFixtures(),
  ]);
});

afterAll(async () => {
  await demo?.close();
  opus?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** `text` spoken by flite's slt voice and recorded as MediaRecorder records: live WebM/Opus. */
async function spokenAsWebm(text: string): Promise<{ webm: Uint8Array; seconds: number }> {
  const wav = await synthesizeSpeech(text, { engine: 'flite', voice: 'slt' });
  const out = join(dir, 'said.webm');
  // A second of room tone first: the engine, like a microphone, starts in quiet.
  await run('ffmpeg', [
    '-y',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    'anullsrc=r=48000:cl=mono:d=1',
    '-i',
    wav,
    '-filter_complex',
    '[0][1]concat=n=2:v=0:a=1,apad=pad_dur=1.5',
    '-c:a',
    'libopus',
    '-b:a',
    '32k',
    '-ar',
    '48000',
    '-ac',
    '1',
    out,
  ]);
  const seconds = readFileSync(wav).byteLength / 32000 + 2.5;
  return { webm: toLiveWebm(readFileSync(out)), seconds };
}

/** Streams WebM in 250 ms blobs at the capture pace, then `{"type":"stop"}`; waits for the close. */
async function record(socket: JsonSocket<ConversationMessage>, webm: Uint8Array, seconds: number) {
  await sendPaced(socket, mediaRecorderBlobs(webm, seconds, TIMESLICE_MS), TIMESLICE_MS / 1000);
  socket.sendJson({ type: 'stop' });
  return socket.waitClosed();
}

const completedWords = (socket: JsonSocket<ConversationMessage>) =>
  socket
    .of(COMPLETED)
    .map((m) => m.transcript)
    .join(' ');

describe('seed 000 frontend on /transcription of the demo, with real speech', () => {
  it('a conversation started over HTTP: MediaRecorder chunks in, transcription events out, stored with the conversation', async () => {
    const started = await demo.fetch('/v1/sessions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { userId: 'dr-lee', patientId: 'p-7' } }),
    });
    expect(started.status).toBe(201);
    const { sessionId: conversationId } = (await started.json()) as { sessionId: string };
    const socket = await demo.open<ConversationMessage>(
      `/transcription?conversationId=${conversationId}`,
    );
    const closed = await record(socket, opus.liveWebm, recording.seconds);
    expect(closed.code).toBe(1000);
    const wer = expectWords(recording.reference, completedWords(socket), MAX_WER.opus);
    console.log(`conversation (WebM/Opus) WER ${wer.toFixed(3)}`);
    expect(socket.messages.every((m) => m.conversationId === conversationId)).toBe(true);
    expect(socket.of('conversation.item.input_audio_transcription.delta').length).toBeGreaterThan(
      0,
    );
    const stored = await demo.getJson<{ session: unknown; segments: { text: string }[] }>(
      `/v1/sessions/${conversationId}`,
    );
    expect(stored.session).toMatchObject({
      status: 'ended',
      metadata: { userId: 'dr-lee', patientId: 'p-7', conversationId, dialect: 'conversation' },
    });
    expect(stored.segments.map((s) => s.text).join(' ')).toBe(completedWords(socket));
  });

  it('a voice command said in the conversation comes back as command events to that socket only', async () => {
    const [said, other] = await Promise.all([
      demo.open<ConversationMessage>('/transcription?conversationId=visit-1'),
      demo.open<ConversationMessage>('/transcription?conversationId=visit-2'),
    ]);
    const { webm, seconds } = await spokenAsWebm(
      'Sully, blood pressure one hundred twenty over eighty.',
    );
    await Promise.all([
      record(said, webm, seconds),
      record(other, opus.liveWebm, recording.seconds),
    ]);
    console.log(`heard: ${completedWords(said)}`);
    const commands = said.of('command');
    expect(commands.map((c) => `${c.name}:${c.phase}`)).toEqual([
      'record_blood_pressure:confirmed',
      'record_blood_pressure:executed',
    ]);
    expect(commands[0]).toMatchObject({ slots: { systolic: 120, diastolic: 80 } });
    // The other conversation's socket heard its own words and no command.
    expect(other.of('command')).toEqual([]);
    expect(other.messages.every((m) => m.conversationId === 'visit-2')).toBe(true);
    expect(said.messages.every((m) => m.conversationId === 'visit-1')).toBe(true);
  });

  it('refuses a socket without a conversation, and answers bad frames with its error shape', async () => {
    expect(await demo.refusal('/transcription')).toBe(400);
    const socket = await demo.open<ConversationMessage>('/transcription?conversationId=visit-9');
    socket.sendText('not json');
    socket.sendJson({ type: 'dance' });
    await socket.until(() => socket.of('error').length >= 2);
    for (const error of socket.of('error')) {
      expect(error).toMatchObject({
        conversationId: 'visit-9',
        error: { message: expect.any(String) },
      });
    }
    socket.sendJson({ type: 'stop' });
    expect((await socket.waitClosed()).code).toBe(1000);
  });
});
