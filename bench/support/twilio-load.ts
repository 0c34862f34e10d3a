// The far side of bench/twilio-calls.bench.ts, in its own process so that the server's
// process measures only the server: Twilio (N callers) and Deepgram (the emulator).
// Protocol on stdio, one JSON line each: it prints { endpoint, apiKey } once the emulator
// listens; it reads { url, calls, seconds } and prints { sent } per run; "exit" ends it.
import { createInterface } from 'node:readline';
import { scriptedTranscriber, startDeepgramEmulator, TwilioCaller } from '@earshot/testing';

const emulator = await startDeepgramEmulator({
  // One utterance every 2 s of each call's audio: finals flow back all through the run.
  transcriber: scriptedTranscriber(
    Array.from({ length: 30 }, (_, i) => ({
      text: `utterance ${i}`,
      start: 2 * i + 0.2,
      end: 2 * i + 1.6,
    })),
  ),
});
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
print({ endpoint: emulator.endpoint, apiKey: emulator.apiKey });

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'exit') break;
  const { url, calls, seconds } = JSON.parse(line) as {
    url: string;
    calls: number;
    seconds: number;
  };
  const callers = await Promise.all(
    Array.from({ length: calls }, () => TwilioCaller.connect({ url })),
  );
  // Call i's audio is every byte equal to i + 1 (0xff, μ-law silence, is left out): the server
  // side checks each provider stream saw one value only.
  await Promise.all(
    callers.map((caller, i) => caller.streamAudio(new Uint8Array(8000 * seconds).fill(i + 1))),
  );
  await Promise.all(callers.map((caller) => caller.stop()));
  print({ sent: calls });
}
await emulator.close();
process.exit(0);
