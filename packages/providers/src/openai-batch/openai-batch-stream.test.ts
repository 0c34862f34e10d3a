import type { EarshotError } from '@earshot/protocol';
import { describe, expect, it } from 'vitest';
import { providerFailure } from '../shared/provider-failure.js';
import type { ProviderTranscript } from '../stt-provider.js';
import { createVoiceActivityDetector } from '../vad/index.js';
import { pcm, silence, voice, writeLive } from './__fixtures__/synthetic-voice.js';
import { OpenAIBatchSttStream, type TranscribeUtterance } from './openai-batch-stream.js';

// These tests hand the stream its `transcribe` function instead of the SDK: they cover
// answers the emulator never gives (a malformed body, empty text) and the request order.
// Everything else is tested through the real SDK against the emulator.

async function streamWith(transcribe: TranscribeUtterance, concurrency = 2) {
  const stream = new OpenAIBatchSttStream({
    streamId: 'ob-test',
    detector: await createVoiceActivityDetector({ sampleRate: 16000 }),
    transcribe,
    concurrency,
    maxUtteranceSeconds: 30,
    preRollSeconds: 0.3,
    postRollSeconds: 0.3,
    lookbackSeconds: 1,
  });
  const finals: ProviderTranscript[] = [];
  const errors: EarshotError[] = [];
  const utteranceEnds: Array<string | undefined> = [];
  stream.on('transcript', (t) => finals.push(t));
  stream.on('error', (e) => errors.push(e));
  stream.on('utterance_end', (e) => utteranceEnds.push(e.segmentId));
  return { stream, finals, errors, utteranceEnds };
}

const threeUtterances = () =>
  pcm(silence(0.3), voice(1), silence(1), voice(1, 3), silence(1), voice(1, 5), silence(1));

describe('OpenAIBatchSttStream', () => {
  it('reports a malformed answer as a non-fatal provider_error and goes on', async () => {
    const answers: unknown[] = [{ text: 'one' }, { words: 'nonsense' }, { text: 'three' }];
    const { stream, finals, errors } = await streamWith(async () => answers.shift());
    writeLive(stream, threeUtterances());
    await stream.end();
    expect(finals.map((f) => [f.segmentId, f.text])).toEqual([
      ['ob-test-1', 'one'],
      ['ob-test-3', 'three'],
    ]);
    expect(errors).toMatchObject([{ code: 'provider_error', fatal: false }]);
  });

  it('emits no final for an empty answer but keeps segment ids in step with utterances', async () => {
    const answers: unknown[] = [{ text: ' ' }, { text: 'two' }, { text: 'three' }];
    const { stream, finals, utteranceEnds } = await streamWith(async () => answers.shift());
    writeLive(stream, threeUtterances());
    await stream.end();
    expect(finals.map((f) => f.segmentId)).toEqual(['ob-test-2', 'ob-test-3']);
    expect(utteranceEnds).toEqual(['ob-test-1', 'ob-test-2', 'ob-test-3']);
  });

  it('starts requests in spoken order and never more than `concurrency` at once', async () => {
    const started: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const release: Array<() => void> = [];
    const { stream, finals } = await streamWith(async (wav) => {
      started.push(wav.byteLength);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise<void>((resolve) => release.push(resolve));
      inFlight--;
      return { text: `utterance of ${wav.byteLength} bytes` };
    }, 1);
    writeLive(stream, pcm(silence(0.3), voice(1.4), silence(1), voice(0.7, 3), silence(1)));
    const ended = stream.end();
    while (finals.length < 2) {
      await new Promise((resolve) => setImmediate(resolve));
      release.shift()?.();
    }
    await ended;
    expect(maxInFlight).toBe(1);
    expect(started[0]).toBeGreaterThan(started[1]!);
  });

  it('drops the answers after a failed request and fails with its error, then closes', async () => {
    const answers: Array<() => unknown> = [
      () => ({ text: 'one' }),
      () => {
        throw providerFailure('dropped', 'socket hang up');
      },
      () => ({ text: 'three' }),
    ];
    const { stream, finals, errors } = await streamWith(async () => answers.shift()?.());
    const closed = new Promise<void>((resolve) => stream.on('close', resolve));
    writeLive(stream, threeUtterances());
    await closed;
    expect(finals.map((f) => f.text)).toEqual(['one']);
    expect(errors).toMatchObject([{ fatal: true, details: { failure: 'dropped' } }]);
  });
});
