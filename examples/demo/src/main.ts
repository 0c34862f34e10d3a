import { join } from 'node:path';
import { ambientOptionsFromEnv } from '@earshot/server';
import { shutdownOnSignals } from '@earshot/server/node';
import { startDemo } from './demo-server.js';
import { providerFromEnv } from './provider-from-env.js';

// The demo reads its settings from the environment; the libraries never do.
const port = Number(process.env.PORT ?? 8787);
const host = process.env.HOST ?? '127.0.0.1';
const databaseUrl =
  process.env.DATABASE_URL ??
  `sqlite:${join(process.env.INIT_CWD ?? process.cwd(), '.earshot', 'demo.db')}`;
const redisUrl = process.env.REDIS_URL || undefined;
const tokenSecret = process.env.EARSHOT_TOKEN_SECRET || undefined;
if (redisUrl && !tokenSecret) {
  console.error('earshot demo: REDIS_URL needs EARSHOT_TOKEN_SECRET, the same on every node');
  process.exit(1);
}
const maxConcurrentStreams = process.env.EARSHOT_LOCAL_MAX_STREAMS
  ? Number(process.env.EARSHOT_LOCAL_MAX_STREAMS)
  : undefined;

const log = (level: string) => (obj: Record<string, unknown>, msg?: string) =>
  console.log(JSON.stringify({ level, time: new Date().toISOString(), msg, ...obj }));
const logger = { debug: () => {}, info: log('info'), warn: log('warn'), error: log('error') };

const provider = await providerFromEnv();
// Seed 001's configuration names, for its frontends' dialect (`/ws/transcribe`).
const ambient = ambientOptionsFromEnv(process.env);
const demo = await startDemo({
  port,
  host,
  databaseUrl,
  redisUrl,
  tokenSecret,
  twilioAuthToken: process.env.TWILIO_AUTH_TOKEN || undefined,
  publicUrl: process.env.PUBLIC_URL || undefined,
  maxConcurrentStreams,
  provider,
  ambient,
  logger,
});
// The store URL without its password, if it has one.
const shownStore = databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:…@');
console.log(
  `Earshot demo ready: ${demo.url}  (WebSocket ${demo.url.replace(/^http/, 'ws')}/v1/listen, store ${shownStore}${redisUrl ? ', cluster on' : ''})`,
);

// SIGINT/SIGTERM: refuse new sessions (503) while the live ones drain (their last finals stored
// and sent, then `closed` and 1001), then exit; after 25 s, or on a second signal, exit anyway.
shutdownOnSignals(
  async () => {
    console.log('Earshot demo: stopping…');
    await demo.close().catch((error: unknown) => {
      console.error(error);
      throw error;
    });
  },
  { logger },
);
