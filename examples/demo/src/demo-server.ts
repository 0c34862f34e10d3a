import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCommandDetector } from '@earshot/commands';
import type { Logger } from '@earshot/protocol';
import type { SttProvider } from '@earshot/providers';
import { createLocalProvider } from '@earshot/providers/local';
import { createEarshotServer, createSqliteStore, type EarshotServer } from '@earshot/server';

/** Options of the demo server; `main.ts` fills them from the environment. */
export interface DemoOptions {
  readonly port: number;
  readonly host: string;
  /** SQLite file for sessions and transcripts. */
  readonly databasePath: string;
  /** How many local-engine streams may run at once. */
  readonly maxConcurrentStreams?: number;
  /** The provider to use instead of the embedded local engine (see provider-from-env.ts). */
  readonly provider?: SttProvider;
  readonly logger?: Logger;
}

/** A running demo. */
export interface Demo {
  readonly url: string;
  readonly http: Server;
  readonly earshot: EarshotServer;
  close(): Promise<void>;
}

const pageUrl = new URL('../public/index.html', import.meta.url);

/** Demo voice commands: say "add note …" or "clear transcript". */
const demoCommands = createCommandDetector({
  commands: [
    {
      name: 'add_note',
      patterns: ['add note {text}', 'add a note {text}'],
      description: 'Adds a note.',
    },
    { name: 'clear_transcript', patterns: ['clear transcript', 'clear the transcript'] },
  ],
});

/**
 * Starts the demo: the local PocketSphinx engine, a SQLite store, the canonical WebSocket,
 * the REST routes and the microphone page at `/`.
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const store = await createSqliteStore({ path: options.databasePath });
  const provider =
    options.provider ?? createLocalProvider({ maxConcurrentStreams: options.maxConcurrentStreams });
  const earshot = createEarshotServer({
    provider,
    store,
    logger: options.logger,
    commands: { detector: demoCommands, onCommand: (match) => ({ ok: true, ...match.slots }) },
  });
  const page = await readFile(pageUrl);

  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && (req.url === '/' || req.url === '/index.html')) {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': page.byteLength,
      });
      res.end(page);
    }
  });
  earshot.attach(http);

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    http,
    earshot,
    async close() {
      await earshot.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await provider.close?.();
      await store.close();
    },
  };
}
