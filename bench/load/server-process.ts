// The server under test, alone in its process so that its CPU and memory are all its own:
// either the bare relay (the baseline) or Earshot with the Deepgram provider pointed at the
// emulator. Started with --expose-gc, so a memory reading can be taken after a full GC.
//
// Argument: a ServerConfig as JSON. Protocol over the IPC channel: it sends
// { type: 'listening', url } once it listens; { type: 'stats', gc? } is answered with a
// ServerStats (after two full GCs when `gc`); { type: 'heap-snapshot', path } writes one there;
// { type: 'exit' } closes it and exits, which writes the CPU profile under --cpu-prof.

import { writeHeapSnapshot } from 'node:v8';
import type { EarshotServerOptions } from '@earshot/server';

/** Which server runs, and against what. */
export interface ServerConfig {
  readonly kind: 'bare' | 'earshot';
  /** The emulator: `ws://127.0.0.1:PORT`, and the key it accepts. */
  readonly upstream: string;
  readonly apiKey: string;
  /** Earshot's store: the transient one (default), or createMemoryStore(). */
  readonly store: 'transient' | 'memory';
  /** Earshot's `limits.resumeGraceSeconds`. */
  readonly resumeGraceSeconds: number;
}

/** What the server process reports when asked. */
export interface ServerStats {
  readonly type: 'stats';
  /** process.cpuUsage(), µs: every thread of the process (GC and libuv threads included). */
  readonly cpu: NodeJS.CpuUsage;
  readonly memory: NodeJS.MemoryUsage;
  /** Earshot's live sessions, or the relay's client sockets. */
  readonly sessions: number;
}

const config = JSON.parse(process.argv[2]!) as ServerConfig;

let url: string;
let sessions: () => number;
let close: () => Promise<void>;
// Each side loads only its own code, so the relay's idle memory is not Earshot's modules.
if (config.kind === 'bare') {
  const { startBareRelay } = await import('./bare-relay.js');
  const relay = await startBareRelay(config.upstream);
  url = relay.url;
  sessions = relay.clients;
  close = () => relay.close();
} else {
  const { createMemoryStore } = await import('@earshot/server');
  const { listen } = await import('@earshot/server/node');
  const { createDeepgramProvider } = await import('@earshot/providers/deepgram');
  const { createTransientStore } = await import('./transient-store.js');
  const options: EarshotServerOptions = {
    // Earshot as an app would run it: the defaults (resilient layer, Prometheus metrics,
    // session limits, heartbeats), PCM16 16 kHz passed through to Deepgram untouched.
    provider: createDeepgramProvider({ apiKey: config.apiKey, baseUrl: config.upstream }),
    store: config.store === 'memory' ? createMemoryStore() : createTransientStore().store,
    // A client that drops without `stop` keeps its session (and upstream) for this long in
    // case it resumes: 30 s by default. The bench sets it explicitly; see README.md.
    limits: { resumeGraceSeconds: config.resumeGraceSeconds },
  };
  const server = await listen({ ...options, port: 0 });
  url = server.url.replace('http', 'ws');
  sessions = () => server.earshot.sessions().length;
  close = () => server.close();
}

const gc = (globalThis as { gc?: () => void }).gc;
process.on('message', async (message: { type: string; gc?: boolean; path?: string }) => {
  if (message.type === 'stats') {
    if (message.gc && gc) {
      // Twice: the first may only finalise what the second frees.
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    const stats: ServerStats = {
      type: 'stats',
      cpu: process.cpuUsage(),
      memory: process.memoryUsage(),
      sessions: sessions(),
    };
    process.send?.(stats);
  } else if (message.type === 'heap-snapshot') {
    process.send?.({ type: 'heap-snapshot', path: writeHeapSnapshot(message.path) });
  } else if (message.type === 'exit') {
    await close();
    process.exit(0);
  }
});
// Its owner is the bench's process: when that goes (killed, crashed), so does this one.
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'listening', url });
