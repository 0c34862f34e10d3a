// The resilient layer's latency figures for every cloud provider, each through its vendor's
// SDK against its emulator on loopback (scripted transcripts, audio paced at real time), side
// by side in one run:
//   first transcript   ms from the first audio byte written to the first interim or final;
//   speech end → final ms from writing the audio at an utterance's end to its final (median);
//   reconnect gap      ms from a dropped upstream to the new one having its replay;
//   replayed           seconds of audio written again after that drop;
//   connect → ready    ms for `open()` to resolve, with a cold connect and with a warm pool.
// The emulators answer at once, so these are what the SDK, the socket and the layer add: the
// floor under a real vendor's own latency.
// Run from the repository root: npx tsx --conditions=@earshot/source bench/provider-latency.bench.ts
import { createResilientProvider, type ResilientStream } from '@earshot/providers/resilient';
import {
  CONTRACT_SCRIPT,
  contractAudioChunk,
  STAMP_SECONDS,
  scriptedTranscriber,
} from '@earshot/testing';
import { allSubjects } from '../tests/support/provider-subjects.js';

const SECONDS = 9.5;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values: number[]) =>
  values.length === 0 ? Number.NaN : [...values].sort((a, b) => a - b)[values.length >> 1]!;

const rows: Record<string, string | number>[] = [];
for (const subject of allSubjects) {
  const emulator = await subject.startEmulator({
    transcriber: scriptedTranscriber(CONTRACT_SCRIPT, { stamped: true }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: the subject's provider is structurally typed
  const upstream = subject.createProvider(emulator, { apiKey: emulator.apiKey }) as any;
  const options = {
    audio: subject.audio,
    language: 'en-US',
    interimResults: true,
    keywords: [],
    diarize: false,
  };

  // Cold connect, then a stream at real time with one drop in the middle of an utterance.
  const cold = createResilientProvider(upstream);
  let t0 = performance.now();
  const stream = (await cold.open(options)) as ResilientStream;
  const coldMs = performance.now() - t0;
  const chunks = Math.round(SECONDS / STAMP_SECONDS);
  for (let k = 0; k < chunks; k++) {
    stream.write(contractAudioChunk(k, subject.audio.sampleRate));
    if (k === 45) {
      // Mid-utterance: the stream drops, or (batch) the request in flight for it.
      if (subject.batch) emulator.faults = { dropAfterAudioSeconds: 0 };
      else emulator.dropAll();
    }
    await sleep(STAMP_SECONDS * 1000);
  }
  await stream.end();

  // Warm: one upstream kept open ahead of the session.
  const warm = createResilientProvider(upstream, { warm: { size: 1, options } });
  await warm.warmPool?.whenFull();
  t0 = performance.now();
  const warmStream = await warm.open(options);
  const warmMs = performance.now() - t0;
  warmStream.abort('bench');
  await warm.close?.();
  await emulator.close();

  const s = stream.stats;
  rows.push({
    provider: subject.name,
    'first transcript ms': Math.round(s.firstTranscriptMs ?? Number.NaN),
    'speech end → final ms': Math.round(median(s.finalLatenciesMs)),
    'reconnect gap ms': Math.round(s.reconnectGapsMs[0] ?? Number.NaN),
    'replayed s': +s.replayedSeconds.toFixed(2),
    'connect → ready cold ms': Math.round(coldMs),
    'connect → ready warm ms': +warmMs.toFixed(2),
    'cold / warm': +(coldMs / warmMs).toFixed(0),
  });
}
console.log(`Resilient layer latencies, ${SECONDS} s of audio at real time per provider, one drop`);
console.table(rows);
