import type { SttProvider, SttStream } from '@earshot/providers';
import { createLocalProvider } from '@earshot/providers/local';
import { createResampler, pcm16FromBytes, pcm16ToBytes } from '@earshot/server/audio';
import { readWavPcm16, speechFixtures, wordErrorRate } from '@earshot/testing';
import type { ContractProvider, ContractTranscript } from '@earshot/testing/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localTranscriber } from '../support/local-transcriber.js';
import { allSubjects } from '../support/provider-subjects.js';

// Real speech through every cloud provider: the vendor's SDK sends the audio to its emulator,
// which recognises it with the local engine. The words must be those of the local provider
// alone on the same recording. Audio a provider takes at another rate than 16 kHz is resampled
// on the way in and back in the emulator, which may move a word; that is measured.
const MAX_WER_SAME_RATE = 0;
const MAX_WER_RESAMPLED = 0.1;

const engine = createLocalProvider({ maxConcurrentStreams: 2 });
let pcm16k: Int16Array;
let expected: string;

async function transcribe(
  provider: SttProvider | ContractProvider,
  audio: { encoding: 'pcm16'; sampleRate: number; channels: number },
): Promise<string> {
  const stream = (await provider.open({
    audio,
    language: 'en-US',
    interimResults: true,
    keywords: [],
    diarize: false,
  })) as SttStream;
  const finals: ContractTranscript[] = [];
  stream.on('transcript', (t) => t.isFinal && finals.push(t));
  const resampler = createResampler(16000, audio.sampleRate);
  const chunk = 1600; // 100 ms at 16 kHz
  for (let at = 0; at < pcm16k.length; at += chunk) {
    stream.write(pcm16ToBytes(resampler.process(pcm16k.subarray(at, at + chunk))));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  stream.write(pcm16ToBytes(resampler.flush()));
  await stream.end();
  return finals.map((f) => f.text).join(' ');
}

beforeAll(async () => {
  const [fixture] = await speechFixtures();
  pcm16k = pcm16FromBytes((await readWavPcm16(fixture!.path)).pcm);
  expected = await transcribe(engine, { encoding: 'pcm16', sampleRate: 16000, channels: 1 });
}, 60_000);

afterAll(() => engine.close());

describe('real speech through each cloud provider (emulator transcribing with the local engine)', () => {
  it('the local provider alone recognises the recording', () => {
    expect(expected.split(' ').length).toBeGreaterThan(5);
  });

  for (const subject of allSubjects) {
    it(`${subject.name}: the same words as the local provider alone`, async () => {
      const emulator = await subject.startEmulator({ transcriber: localTranscriber(engine) });
      try {
        const provider = subject.createProvider(emulator, { apiKey: emulator.apiKey });
        const heard = await transcribe(provider, subject.audio);
        const wer = wordErrorRate(expected, heard);
        console.log(`${subject.name}: WER ${wer.toFixed(3)} against the local provider alone`);
        const limit = subject.audio.sampleRate === 16000 ? MAX_WER_SAME_RATE : MAX_WER_RESAMPLED;
        expect(wer).toBeLessThanOrEqual(limit);
      } finally {
        await emulator.close();
      }
    });
  }
});
