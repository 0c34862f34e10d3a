import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ambientOptionsFromEnv } from '@earshot/server';
import { type JsonSocket, normalizeWords, until } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DialectDemo,
  expectWords,
  MAX_WER,
  narrowbandRecording,
  pcmFrames,
  type Recording,
  readRecording,
  SPOKEN,
  sendPaced,
  startDialectDemo,
  withTrailingSilence,
} from '../../support/dialect-speech.js';

// Seed 001's frontend (AmbientAI), from the seed's text alone, against the demo server and its
// local engine with real speech: `/ws/transcribe` (or `/ws/transcribe/{session_id}`) answers
// `connected` with the session id and config; binary PCM16 in the AudioWorklet's 8192-sample
// buffers; `transcript` messages with `text` and `confidence`; `ping`, `session_info`,
// `end_session`; its REST paths under `/api/v1/websocket`; its `WEBSOCKET_*` settings.

type AmbientMessage =
  | { type: 'connected'; session_id: string; config: Record<string, unknown> }
  | { type: 'transcript'; text: string; confidence: number }
  | { type: 'pong' }
  | { type: 'session_info'; session_id: string }
  | { type: 'session_ended'; session_id: string }
  | { type: 'error'; message: string }
  | { type: 'announcement'; message: string };

/** `GET /api/v1/websocket/sessions`, as the seed documents it. */
interface ActiveSessions {
  active_sessions: number;
  max_connections: number;
  sessions: {
    session_id: string;
    connected_at: string;
    total_chunks: number;
    transcript_length: number;
  }[];
}

/** `GET /v1/sessions/:id`: Earshot's own record of a session. */
interface StoredSession {
  session: { status: string; metadata: Record<string, unknown> };
  transcript: string;
}

// The seed's AudioWorklet posts its buffer when 8192 samples are in it.
const WORKLET_BUFFER_SAMPLES = 8192;
// The microphone keeps capturing after the speaker stops, until the user ends the session:
// long enough for the engine to hear the pause and for the last partial buffer, never posted,
// to hold only silence.
const TRAILING_SILENCE_SECONDS = 1.5;
const ANNOUNCEMENT = { type: 'announcement', message: 'System maintenance in 5 minutes' };

const measured: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'earshot-ambient-'));
let recording: Recording;

beforeAll(async () => {
  recording = await readRecording(SPOKEN);
});

afterAll(() => {
  console.log(`ambient WER against pocketsphinx_continuous: ${measured.join(', ')}`);
  rmSync(dir, { recursive: true, force: true });
});

/** Streams `said` as the seed's worklet does: full 8192-sample buffers, paced as captured. */
async function speak(socket: JsonSocket<AmbientMessage>, said: Recording): Promise<number> {
  const frames = pcmFrames(
    withTrailingSilence(said, TRAILING_SILENCE_SECONDS),
    WORKLET_BUFFER_SAMPLES,
  );
  await sendPaced(socket, frames, WORKLET_BUFFER_SAMPLES / said.sampleRate);
  return frames.length;
}

/** The text of every `transcript` so far, in order, joined. */
const heard = (socket: JsonSocket<AmbientMessage>) =>
  socket
    .of('transcript')
    .map((t) => t.text)
    .join(' ');

/** Sends `end_session`; resolves the `session_ended` and the close that follow it. */
async function endSession(socket: JsonSocket<AmbientMessage>) {
  socket.sendJson({ type: 'end_session' });
  const ended = await socket.next('session_ended');
  return { ended, closed: await socket.waitClosed() };
}

describe('seed 001 frontend on /ws/transcribe of the demo, with real speech', () => {
  let demo: DialectDemo;
  beforeAll(async () => {
    demo = await startDialectDemo();
  });
  afterAll(async () => {
    await demo?.close();
  });

  it('greets with connected (session_id, config), answers ping with pong and session_info with the session, and on end_session sends session_ended and closes', async () => {
    const socket = await demo.open<AmbientMessage>('/ws/transcribe');
    const connected = await socket.next('connected');
    expect(connected.session_id).toMatch(/\S/);
    expect(connected.config).toEqual(expect.any(Object));

    socket.sendJson({ type: 'ping' });
    await socket.next('pong');
    socket.sendJson({ type: 'session_info' });
    expect(await socket.next('session_info')).toMatchObject({ session_id: connected.session_id });
    const { ended, closed } = await endSession(socket);
    expect(ended.session_id).toBe(connected.session_id);
    expect(closed.code).toBe(1000);
    expect(socket.of('error')).toEqual([]);
    expect(socket.unparsed).toEqual([]);
  });

  it("sends transcripts (text, confidence) with the words spoken in 8192-sample PCM16 buffers, and keeps the ended session's transcript as an ambient one", async () => {
    const socket = await demo.open<AmbientMessage>('/ws/transcribe');
    const { session_id } = await socket.next('connected');
    await speak(socket, recording);
    expect((await endSession(socket)).closed.code).toBe(1000);

    expect(socket.of('error')).toEqual([]);
    const transcripts = socket.of('transcript');
    expect(transcripts.length).toBeGreaterThan(0);
    for (const transcript of transcripts) {
      expect(transcript.text).toEqual(expect.any(String));
      expect(transcript.confidence).toBeGreaterThanOrEqual(0);
      expect(transcript.confidence).toBeLessThanOrEqual(1);
    }
    const wer = expectWords(recording.reference, heard(socket), MAX_WER.pcm);
    measured.push(`16 kHz ${wer.toFixed(3)}`);

    // "Full transcript is aggregated" when a session ends: Earshot keeps it, marked as this
    // dialect's.
    const stored = await demo.getJson<StoredSession>(`/v1/sessions/${session_id}`);
    expect(stored.session.status).toBe('ended');
    expect(stored.session.metadata.dialect).toBe('ambient');
    expect(normalizeWords(stored.transcript)).toEqual(normalizeWords(heard(socket)));
  });

  it('REST: a session connected as /ws/transcribe/{session_id} is listed under that id, reached by a broadcast, and ended by POST …/sessions/{id}/end', async () => {
    const id = 'exam-room-4';
    const before = Date.now();
    const socket = await demo.open<AmbientMessage>(`/ws/transcribe/${id}`);
    expect((await socket.next('connected')).session_id).toBe(id);
    const sent = await speak(socket, recording);
    await socket.next('transcript');

    const listed = await demo.getJson<ActiveSessions>('/api/v1/websocket/sessions');
    expect(listed).toMatchObject({ active_sessions: 1, max_connections: 100 });
    expect(listed.sessions).toHaveLength(1);
    const [session] = listed.sessions;
    expect(session?.session_id).toBe(id);
    const connectedAt = Date.parse(session?.connected_at ?? '');
    expect(connectedAt).toBeGreaterThanOrEqual(before - 1000);
    expect(connectedAt).toBeLessThanOrEqual(Date.now());
    // Chunks of audio received or transcribed: at least one, never more than were sent.
    expect(session?.total_chunks).toBeGreaterThanOrEqual(1);
    expect(session?.total_chunks).toBeLessThanOrEqual(sent);
    // The characters of the transcript so far, however its pieces are joined.
    const pieces = socket.of('transcript').map((t) => t.text.length);
    const letters = pieces.reduce((sum, n) => sum + n, 0);
    expect(session?.transcript_length).toBeGreaterThanOrEqual(letters);
    expect(session?.transcript_length).toBeLessThanOrEqual(letters + pieces.length);

    const broadcast = await demo.fetch('/api/v1/websocket/broadcast', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ANNOUNCEMENT),
    });
    expect(broadcast.status).toBe(200);
    expect(await socket.next('announcement')).toEqual(ANNOUNCEMENT);

    const end = await demo.fetch(`/api/v1/websocket/sessions/${id}/end`, { method: 'POST' });
    expect(end.status).toBe(200);
    expect(await socket.next('session_ended')).toMatchObject({ session_id: id });
    expect((await socket.waitClosed()).code).toBe(1000);
    await until(
      async () =>
        (await demo.getJson<ActiveSessions>('/api/v1/websocket/sessions')).active_sessions === 0,
    );
  });
});

describe("the demo configured by the seed's WEBSOCKET_* names", () => {
  let demo: DialectDemo;
  beforeAll(async () => {
    demo = await startDialectDemo({
      ambient: ambientOptionsFromEnv({
        WEBSOCKET_MAX_CONNECTIONS: '1',
        WEBSOCKET_SAMPLE_RATE: '8000',
      }),
    });
  });
  afterAll(async () => {
    await demo?.close();
  });

  /** Resolves once the demo lists no live session: the connection slot is free again. */
  const slotFreed = () =>
    until(
      async () =>
        (await demo.getJson<ActiveSessions>('/api/v1/websocket/sessions')).active_sessions === 0,
    );

  it('WEBSOCKET_MAX_CONNECTIONS=1: a second connection is refused with HTTP 503, and one is taken again once the first has ended', async () => {
    const first = await demo.open<AmbientMessage>('/ws/transcribe');
    await first.next('connected');
    expect(await demo.refusal('/ws/transcribe')).toBe(503);
    expect(await demo.refusal('/ws/transcribe/another-room')).toBe(503);
    const listed = await demo.getJson<ActiveSessions>('/api/v1/websocket/sessions');
    expect(listed).toMatchObject({ active_sessions: 1, max_connections: 1 });

    expect((await endSession(first)).closed.code).toBe(1000);
    await slotFreed();
    const next = await demo.open<AmbientMessage>('/ws/transcribe');
    await next.next('connected');
    await endSession(next);
    await slotFreed();
  });

  it('WEBSOCKET_SAMPLE_RATE=8000: 8 kHz PCM16 from the worklet is understood', async () => {
    const narrowband = await narrowbandRecording(dir);
    expect(narrowband.sampleRate).toBe(8000);
    const socket = await demo.open<AmbientMessage>('/ws/transcribe');
    await socket.next('connected');
    await speak(socket, narrowband);
    const { closed } = await endSession(socket);
    expect(closed.code).toBe(1000);
    expect(socket.of('error')).toEqual([]);
    const wer = expectWords(narrowband.reference, heard(socket), MAX_WER.narrowband);
    measured.push(`8 kHz ${wer.toFixed(3)}`);
  });
});
