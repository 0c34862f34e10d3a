import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { clinicalCommands, createCommandDetector, extendCommandSet } from '@earshot/commands';
import type { Logger } from '@earshot/protocol';
import type { SttProvider } from '@earshot/providers';
import { createLocalProvider } from '@earshot/providers/local';
import {
  type AmbientDialectOptions,
  ambientDialect,
  conversationDialect,
  createEarshotServer,
  createOfflineResponder,
  createStoreFromUrl,
  type EarshotServer,
  type Responder,
  sttStreamDialect,
  voiceAgentDialect,
} from '@earshot/server';
import { build } from 'esbuild';

/** Options of the demo server; `main.ts` fills them from the environment. */
export interface DemoOptions {
  readonly port: number;
  readonly host: string;
  /**
   * Where sessions and transcripts are kept: `sqlite:<path>` (a file, kept across restarts),
   * `postgres://…`, or `memory:`.
   */
  readonly databaseUrl: string;
  /** A Redis shared with other demo nodes: turns on the cluster bus. Needs `tokenSecret`. */
  readonly redisUrl?: string;
  /** Signs session tokens; every node of a cluster needs the same one. */
  readonly tokenSecret?: string;
  /**
   * Twilio's auth token: phone calls stream to `/v1/twilio` (webhook `/v1/twilio/voice`) with
   * their signatures checked. Without it the demo takes unsigned streams (for local tries).
   */
  readonly twilioAuthToken?: string;
  /** The public URL Twilio reaches the demo at (for the TwiML's stream URL). */
  readonly publicUrl?: string;
  /** How many local-engine streams may run at once. */
  readonly maxConcurrentStreams?: number;
  /**
   * Seed 001's settings for its dialect (`/ws/transcribe`), as `main.ts` reads them from the
   * `WEBSOCKET_*` environment variables.
   */
  readonly ambient?: AmbientDialectOptions;
  /** What answers the voice-agent dialect's utterances. Default: offline rules spoken by espeak-ng. */
  readonly responder?: Responder;
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
const pageScriptPath = fileURLToPath(new URL('./page/demo-page.ts', import.meta.url));

/**
 * The page's script with @earshot/client bundled in, for the browser (minified ESM). Built
 * in memory at start-up, so the demo needs no build step of its own.
 */
export async function bundlePageScript(): Promise<Uint8Array> {
  const result = await build({
    entryPoints: [pageScriptPath],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  const [file] = result.outputFiles;
  if (!file) throw new Error('esbuild produced no page script');
  return file.contents;
}

/**
 * Demo voice commands: the clinical scribe's (say "Sully, add a note …", "Sully, order a lipid
 * panel", "Sully, write a prescription for amoxicillin five hundred milligrams twice a day"),
 * plus "Sully, clear the transcript".
 */
const demoCommands = createCommandDetector(
  extendCommandSet(clinicalCommands(), {
    add: [{ name: 'clear_transcript', patterns: ['clear [the] transcript'] }],
  }),
);

/**
 * Starts the demo: the local PocketSphinx engine, the store its URL names, the canonical
 * WebSocket, the REST routes and the microphone page at `/`; with a Redis URL, as one node of
 * a cluster.
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const store = await createStoreFromUrl(options.databaseUrl);
  const provider =
    options.provider ?? createLocalProvider({ maxConcurrentStreams: options.maxConcurrentStreams });
  const earshot = createEarshotServer({
    provider,
    store,
    logger: options.logger,
    tokenSecret: options.tokenSecret,
    cluster: options.redisUrl ? { redisUrl: options.redisUrl } : undefined,
    // Callers are answered too: the responder's speech is played into the call.
    twilio: { authToken: options.twilioAuthToken, publicUrl: options.publicUrl, reply: true },
    commands: { detector: demoCommands, onCommand: (match) => ({ ok: true, ...match.slots }) },
    // The seeds' own frontends, unchanged (docs/dialects/).
    // ambient before voice-agent: `/ws/transcribe` is ambient's, any other `/ws/{id}` an agent's.
    dialects: [
      conversationDialect(),
      ambientDialect(options.ambient),
      sttStreamDialect(),
      voiceAgentDialect(),
    ],
    responder: options.responder ?? createOfflineResponder(),
  });
  const page = await readFile(pageUrl);
  const script = await bundlePageScript();
  const assets: Record<string, { type: string; body: Uint8Array }> = {
    '/': { type: 'text/html; charset=utf-8', body: page },
    '/index.html': { type: 'text/html; charset=utf-8', body: page },
    '/assets/demo-page.js': { type: 'text/javascript; charset=utf-8', body: script },
  };

  // The page and its script, then Earshot's REST routes, then 404; upgrades go to Earshot.
  const http = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const asset = req.method === 'GET' ? assets[path] : undefined;
    if (asset) {
      res.writeHead(200, { 'content-type': asset.type, 'content-length': asset.body.byteLength });
      res.end(asset.body);
      return;
    }
    if (await earshot.handleRequest(req, res)) return;
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'no such route' } }));
  });
  http.on('upgrade', (req, socket, head) => {
    if (!earshot.handleUpgrade(req, socket, head)) socket.destroy();
  });

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
