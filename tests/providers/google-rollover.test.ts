import { createGoogleProvider } from '@earshot/providers/google';
import { createResilientProvider } from '@earshot/providers/resilient';
import {
  type ScriptedUtterance,
  STAMP_SECONDS,
  scriptedTranscriber,
  stampedAudio,
  startGoogleEmulator,
} from '@earshot/testing';
import { expect, it } from 'vitest';

// Google ends a stream at 305 s of audio (GOOGLE_STREAM_LIMIT_SECONDS). Here the emulator's
// cap is shortened to 30 s and the provider declares 25 s, so 12 minutes of audio go through
// some 30 upstream streams in seconds; the resilient layer rolls over at pauses, with the next
// stream opened early, and the transcript must come out whole: every word once, in order.
const MINUTES = 12;
const CAP_SECONDS = 30;
const DECLARED_SECONDS = 25;

// An utterance of four numbered words every 3 s, 2.2 s long, with pauses between.
const script: ScriptedUtterance[] = [];
for (let t = 0.5; t + 2.2 < MINUTES * 60; t += 3) {
  const n = script.length;
  script.push({ text: `a${n} b${n} c${n} d${n}`, start: t, end: t + 2.2 });
}

it(`a ${MINUTES}-minute Google stream rolls over before each stream cap and yields a gap-free transcript`, async () => {
  const emulator = await startGoogleEmulator({
    transcriber: scriptedTranscriber(script, { stamped: true }),
    faults: { maxStreamSeconds: CAP_SECONDS },
  });
  const provider = createResilientProvider(
    createGoogleProvider({
      apiKey: emulator.apiKey,
      endpoint: emulator.endpoint,
      insecure: true,
      maxStreamSeconds: DECLARED_SECONDS,
    }),
  );
  try {
    const stream = await provider.open({
      audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
      language: 'en-US',
      interimResults: true,
      keywords: [],
      diarize: false,
    });
    const finals: string[] = [];
    const errors: string[] = [];
    stream.on('transcript', (t) => t.isFinal && finals.push(t.text));
    stream.on('error', (e) => errors.push(e.code));
    const chunks = Math.round((MINUTES * 60) / STAMP_SECONDS);
    for (let k = 0; k < chunks; k++) {
      stream.write(stampedAudio(k, 16000));
      // Yield now and then so the upstreams' events interleave with the audio, as live.
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await stream.end();
    expect(errors).toEqual([]);
    expect(finals.join(' ').split(' ')).toEqual(script.flatMap((u) => u.text.split(' ')));
    expect(stream.stats.rollovers).toBeGreaterThanOrEqual((MINUTES * 60) / CAP_SECONDS - 1);
    expect(stream.stats.reconnects).toBe(0); // no stream ever hit the cap
    for (const c of emulator.connections) expect(c.closed?.code ?? 0).not.toBe(11);
  } finally {
    await provider.close?.();
    await emulator.close();
  }
}, 120_000);
