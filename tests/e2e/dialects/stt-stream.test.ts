import { type JsonSocket, makeOpusFixtures, type OpusFixtures } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DialectDemo,
  expectWords,
  MAX_WER,
  mediaRecorderBlobs,
  pcmFrames,
  type Recording,
  readRecording,
  SPOKEN,
  sendPaced,
  startDialectDemo,
  withTrailingSilence,
} from '../../support/dialect-speech.js';

// Seed 003's frontend (an Electron/React app written for a Deepgram relay), from the seed's
// text alone, against the demo server and its local engine with real speech: open
// `/stt-stream`, send `configure`, stream audio, send `stop`; back come `interim_transcript`
// and `final_transcript` messages (`{"type", "transcript"}`), errors as `{"type":"error",
// "message"}`, and the server closes the connection.

type SttStreamMessage =
  | { type: 'interim_transcript'; transcript: string }
  | { type: 'final_transcript'; transcript: string }
  | { type: 'error'; message: string };

// A `linear16` frontend posts what its capture node hands it: 4096 samples (256 ms) a time,
// ScriptProcessorNode's usual buffer. MediaRecorder is started with a 250 ms timeslice.
const LINEAR16_FRAME_SAMPLES = 4096;
const TIMESLICE_MS = 250;

let demo: DialectDemo;
let recording: Recording;
let opus: OpusFixtures;
const measured: string[] = [];

beforeAll(async () => {
  [demo, recording, opus] = await Promise.all([
    startDialectDemo(),
    readRecording(SPOKEN),
    makeOpusFixtures(),
  ]);
});

afterAll(async () => {
  console.log(`stt-stream WER against pocketsphinx_continuous: ${measured.join(', ')}`);
  await demo?.close();
  opus?.cleanup();
});

const openSttStream = () => demo.open<SttStreamMessage>('/stt-stream');

/** The words of every `final_transcript`, in order, joined. */
const finalWords = (socket: JsonSocket<SttStreamMessage>) =>
  socket
    .of('final_transcript')
    .map((m) => m.transcript)
    .join(' ');

/** Sends `{"action":"stop"}` and waits for the server to close the connection. */
async function stop(socket: JsonSocket<SttStreamMessage>) {
  socket.sendJson({ action: 'stop' });
  return socket.waitClosed();
}

/** What every well-behaved session must show: only the seed's messages, all JSON, no errors. */
function expectOnlyTranscripts(socket: JsonSocket<SttStreamMessage>) {
  expect(socket.unparsed).toEqual([]);
  expect(socket.of('error')).toEqual([]);
  for (const message of socket.messages) {
    expect(['interim_transcript', 'final_transcript']).toContain(message.type);
    expect(message).toMatchObject({ transcript: expect.any(String) });
  }
}

describe('seed 003 frontend on /stt-stream of the demo, with real speech', () => {
  it('linear16: configure, PCM16 chunks, stop; interims while speaking, final_transcripts with the spoken words, then the server closes', async () => {
    const socket = await openSttStream();
    socket.sendJson({
      action: 'configure',
      audio_format: { encoding: 'linear16', sample_rate: 16000, channels: 1 },
    });
    const frames = pcmFrames(withTrailingSilence(recording, 0.5), LINEAR16_FRAME_SAMPLES);
    await sendPaced(socket, frames, LINEAR16_FRAME_SAMPLES / recording.sampleRate);

    expect((await stop(socket)).code).toBe(1000);
    expectOnlyTranscripts(socket);
    expect(socket.of('interim_transcript').length, 'interims while audio arrives').toBeGreaterThan(
      0,
    );
    // The interims show speech as it comes: the first is heard before the last final.
    const types = socket.messages.map((m) => m.type);
    expect(types.indexOf('interim_transcript')).toBeLessThan(types.lastIndexOf('final_transcript'));
    const wer = expectWords(recording.reference, finalWords(socket), MAX_WER.pcm);
    measured.push(`linear16 ${wer.toFixed(3)}`);
  });

  it('MediaRecorder: configured as audio/webm;codecs=opus, the WebM/Opus blobs ondataavailable gives come back as the spoken words', async () => {
    const socket = await openSttStream();
    socket.sendJson({
      action: 'configure',
      audio_format: { encoding: 'audio/webm;codecs=opus', sample_rate: 48000, channels: 1 },
    });
    const blobs = mediaRecorderBlobs(opus.liveWebm, recording.seconds, TIMESLICE_MS);
    await sendPaced(socket, blobs, TIMESLICE_MS / 1000);

    expect((await stop(socket)).code).toBe(1000);
    expectOnlyTranscripts(socket);
    expect(socket.of('final_transcript').length).toBeGreaterThan(0);
    const wer = expectWords(recording.reference, finalWords(socket), MAX_WER.opus);
    measured.push(`webm/opus ${wer.toFixed(3)}`);
  });

  it('answers each malformed message with {"type":"error","message"} and still closes cleanly on stop', async () => {
    const socket = await openSttStream();
    const malformed: (() => void)[] = [
      () => socket.sendText('{"action": "configure", '),
      () => socket.sendJson({ action: 'transcribe-faster' }),
      () => socket.sendJson({ action: 'configure', audio_format: 'linear16' }),
      () =>
        socket.sendJson({
          action: 'configure',
          audio_format: { encoding: 'linear16', sample_rate: 'sixteen thousand', channels: 1 },
        }),
    ];
    for (const send of malformed) send();
    await socket.until(() => socket.of('error').length >= malformed.length || !!socket.closed);

    const errors = socket.of('error');
    expect(errors).toHaveLength(malformed.length);
    for (const error of errors) {
      expect(error).toMatchObject({ type: 'error', message: expect.stringMatching(/\S/) });
    }
    expect(socket.of('final_transcript')).toEqual([]);
    expect(socket.closed, 'the errors did not end the connection').toBeUndefined();
    expect((await stop(socket)).code).toBe(1000);
  });
});
