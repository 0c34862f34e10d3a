// The upstream of the load bench, in its own process: @earshot/testing's Deepgram emulator
// (the real wire, as @deepgram/sdk speaks it) with the echo transcriber, which answers every
// frame with a result carrying its stamp. Both servers under test talk to an emulator like
// this one, started afresh for each run, so the upstream costs the same on both sides.
//
// Protocol over the IPC channel: it sends { type: 'ready', endpoint, apiKey } once it listens;
// it answers { type: 'stats' } with an EmulatorStats; { type: 'exit' } ends it.
import { startDeepgramEmulator } from '@earshot/testing';
import { echoTranscriber } from './echo-transcriber.js';

/** What the emulator reports when asked. */
export interface EmulatorStats {
  readonly type: 'stats';
  /** Connections open now. */
  readonly open: number;
  /** Connections whose session became known since the last report: [session key, wall ms]. */
  readonly named: [number, number][];
  /** Connections that ended since the last report: [session key, wall ms]. */
  readonly closes: [number, number][];
  /** Connections that ended before a frame named their session. */
  readonly closesUnknown: number;
  readonly unstampedFrames: number;
  /** Connections so far, and how those that ended were closed: { code: count }. */
  readonly connections: number;
  readonly closeCodes: Record<string, number>;
  /** process.cpuUsage() of the emulator, µs. */
  readonly cpu: NodeJS.CpuUsage;
}

const utteranceSeconds = Number(process.argv[2] ?? '2');
let named: [number, number][] = [];
let closes: [number, number][] = [];
let closesUnknown = 0;
const { transcriber, counts } = echoTranscriber({
  utteranceSeconds,
  events: {
    named(key, atMs) {
      named.push([key, atMs]);
    },
    closed(key, atMs) {
      if (key === undefined) closesUnknown++;
      else closes.push([key, atMs]);
    },
  },
});
const emulator = await startDeepgramEmulator({ transcriber });

const send = (message: object) => process.send?.(message);
process.on('message', async (message: { type: string }) => {
  if (message.type === 'stats') {
    const closeCodes: Record<string, number> = {};
    for (const c of emulator.connections) {
      if (c.closed) closeCodes[c.closed.code] = (closeCodes[c.closed.code] ?? 0) + 1;
    }
    const stats: EmulatorStats = {
      type: 'stats',
      open: counts.open,
      named,
      closes,
      closesUnknown,
      unstampedFrames: counts.unstampedFrames,
      connections: emulator.connections.length,
      closeCodes,
      cpu: process.cpuUsage(),
    };
    named = [];
    closes = [];
    send(stats);
  } else if (message.type === 'exit') {
    await emulator.close();
    process.disconnect();
  }
});
// Its owner is the bench's process: when that goes (killed, crashed), so does this one.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', endpoint: emulator.endpoint, apiKey: emulator.apiKey });
