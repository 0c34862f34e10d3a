import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EarshotError, type Logger, readWavHeader, silentLogger } from '@earshot/protocol';
import { parseWavPcm16, processAlive } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOfflineResponder } from './offline-responder.js';
import type { Reply, ReplyRequest } from './responder.js';

function request(transcript: string, signal = new AbortController().signal): ReplyRequest {
  return { transcript, sessionId: 'session-1', metadata: {}, history: [], signal };
}

/** Root mean square of PCM16 little-endian samples. */
function rms(pcm: Uint8Array): number {
  const samples = new Int16Array(pcm.buffer, pcm.byteOffset, Math.floor(pcm.byteLength / 2));
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.sqrt(sum / Math.max(1, samples.length));
}

/** Checks the reply's audio is a whole PCM16 WAV of speech, and returns its seconds. */
function expectSpokenWav(reply: Reply): number {
  expect(reply.audio?.format).toBe('wav');
  const bytes = Buffer.from(reply.audio?.data ?? new Uint8Array());
  const header = readWavHeader(bytes);
  if (!header.complete) throw new Error('incomplete WAV header');
  // The sizes are exact, not a pipe's placeholder.
  expect(header.dataBytes).toBe(bytes.byteLength - header.dataOffset);
  expect(bytes.readUInt32LE(4)).toBe(bytes.byteLength - 8);
  const { format, pcm } = parseWavPcm16(bytes);
  expect(format).toMatchObject({ encoding: 'pcm16', channels: 1 });
  expect(rms(pcm)).toBeGreaterThan(300);
  return pcm.byteLength / 2 / format.sampleRate;
}

/** A logger that calls `onStart` with the synthesizer's pid when it logs its start. */
function onSynthesizerStart(onStart: (pid: number) => void): Logger {
  return {
    ...silentLogger,
    debug: (obj) => {
      if (typeof obj.pid === 'number') onStart(obj.pid);
    },
  };
}

describe('createOfflineResponder', () => {
  const text = createOfflineResponder({
    speak: false,
    name: 'Robin',
    now: () => new Date('2024-03-01T15:05:00Z'),
    timeZone: 'UTC',
  });

  it('is named offline', () => {
    expect(text.name).toBe('offline');
  });

  it.each([
    ['hello there', 'Hello! I am Robin. How can I help?'],
    ['Good morning!', 'Hello! I am Robin. How can I help?'],
    ['thank you very much', "You're welcome!"],
    ['what time is it', 'It is 3:05 PM.'],
    ["What's the time?", 'It is 3:05 PM.'],
    ['what is your name', 'I am Robin, a voice assistant that runs offline.'],
    ['hey who are you', 'I am Robin, a voice assistant that runs offline.'],
    ['hello can you hear me', 'Yes, I can hear you.'],
    ['thanks, goodbye', 'Goodbye! Talk to you soon.'],
    ['bye', 'Goodbye! Talk to you soon.'],
    ['the weather is  nice today', 'I heard: the weather is nice today'],
    ['   ', "I didn't catch that. Could you say it again?"],
  ])('answers "%s" with "%s"', async (transcript, answer) => {
    expect(await text.respond(request(transcript))).toEqual({ text: answer });
  });

  it('does not take a word that merely contains a greeting for one', async () => {
    expect((await text.respond(request('this is high'))).text).toBe('I heard: this is high');
  });

  it('cuts a long echo at a word, within maxTextLength', async () => {
    const short = createOfflineResponder({ speak: false, maxTextLength: 40 });
    const reply = await short.respond(request('one two three four five six seven eight nine ten'));
    expect(reply.text).toBe('I heard: one two three four five six…');
    expect(reply.text.length).toBeLessThanOrEqual(40);
  });

  it('answers the same words the same way every time', async () => {
    const replies = await Promise.all([1, 2, 3].map(() => text.respond(request('hi'))));
    expect(new Set(replies.map((r) => r.text)).size).toBe(1);
  });

  it('refuses options out of range when created', () => {
    expect(() => createOfflineResponder({ rate: 5 })).toThrow(/rate must be a number from 80/);
    expect(() => createOfflineResponder({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => createOfflineResponder({ timeZone: 'Mars/Olympus' })).toThrow(/IANA time zone/);
  });

  it('speaks the reply with espeak-ng as a PCM16 WAV that is not silence', async () => {
    const responder = createOfflineResponder();
    const reply = await responder.respond(request('can you hear me'));
    expect(reply.text).toBe('Yes, I can hear you.');
    expect(expectSpokenWav(reply)).toBeGreaterThan(0.7);
  });

  it('speaks a longer reply for longer text', async () => {
    const responder = createOfflineResponder();
    const short = expectSpokenWav(await responder.respond(request('thanks')));
    const long = expectSpokenWav(
      await responder.respond(request('please repeat this rather long sentence back to me slowly')),
    );
    expect(long).toBeGreaterThan(short * 2);
  });

  it('speaks with flite when asked', async () => {
    const responder = createOfflineResponder({ engine: 'flite' });
    const reply = await responder.respond(request('thank you'));
    expect(reply.text).toBe("You're welcome!");
    expect(expectSpokenWav(reply)).toBeGreaterThan(0.4);
  });

  it('speaks a transcript that starts with a dash as text, not as an option', async () => {
    const responder = createOfflineResponder({ maxTextLength: 1000 });
    const reply = await responder.respond(request('-w /tmp/x --version'));
    expect(reply.text).toBe('I heard: -w /tmp/x --version');
    expectSpokenWav(reply);
  });

  it('kills espeak-ng when the request aborts, and rejects with an AbortError', async () => {
    const controller = new AbortController();
    let pid: number | undefined;
    const responder = createOfflineResponder({
      maxTextLength: 10_000,
      logger: onSynthesizerStart((started) => {
        pid = started;
        controller.abort(new Error('caller spoke over the reply'));
      }),
    });
    const error = await responder
      .respond(request('word '.repeat(1500), controller.signal))
      .catch((e: unknown) => e);
    expect(EarshotError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ name: 'AbortError', details: { aborted: true } });
    expect((error as Error).cause).toEqual(new Error('caller spoke over the reply'));
    expect(pid).toBeTypeOf('number');
    // Settled only once the child has been reaped: it is gone now, not soon.
    expect(processAlive(pid as number)).toBe(false);
  });

  it('rejects an already aborted request without starting a synthesizer', async () => {
    let started = false;
    const responder = createOfflineResponder({
      logger: onSynthesizerStart(() => (started = true)),
    });
    const controller = new AbortController();
    controller.abort();
    await expect(responder.respond(request('hello', controller.signal))).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(started).toBe(false);
  });

  // A stand-in for the engine: the real one cannot be made to hang on cue.
  describe('with an engine that never finishes', () => {
    let dir: string;
    let hang: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'earshot-offline-test-'));
      hang = join(dir, 'hang');
      await writeFile(hang, '#!/bin/sh\nexec sleep 60\n');
      await chmod(hang, 0o755);
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('kills it after timeoutMs and rejects with timeout', async () => {
      let pid: number | undefined;
      const responder = createOfflineResponder({
        command: hang,
        timeoutMs: 200,
        logger: onSynthesizerStart((started) => {
          pid = started;
        }),
      });
      const error = await responder.respond(request('hello')).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'timeout',
        message: 'espeak-ng took longer than 200 ms',
      });
      expect(processAlive(pid as number)).toBe(false);
    });
  });

  it.each([
    ['espeak-ng', 'apt-get install -y espeak-ng'],
    ['flite', 'apt-get install -y flite'],
  ] as const)(
    'rejects a missing %s with provider_unavailable naming its package',
    async (engine, install) => {
      const responder = createOfflineResponder({ engine, command: `/nonexistent/${engine}` });
      const error = await responder.respond(request('hello')).catch((e: unknown) => e);
      expect(EarshotError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: 'provider_unavailable', details: { install } });
      expect((error as Error).message).toContain(install);
    },
  );

  it('rejects with provider_error and the engine message when the engine fails', async () => {
    const responder = createOfflineResponder({ voice: 'nosuchvoice' });
    await expect(responder.respond(request('hello'))).rejects.toMatchObject({
      code: 'provider_error',
      message: 'espeak-ng failed (exit 1): Error: The specified espeak-ng voice does not exist.',
    });
  });
});
