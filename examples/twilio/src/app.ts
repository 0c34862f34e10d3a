import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SttProvider } from '@earshot/providers';
import { createEarshotServer, createStoreFromUrl, type EarshotServer } from '@earshot/server';

/** Settings of the phone app; `main.ts` reads them from the environment. */
export interface PhoneAppOptions {
  readonly provider: SttProvider;
  /** Twilio's auth token: signatures are checked when set (always, in production). */
  readonly authToken?: string;
  /** The public `https://` URL Twilio reaches this app at (e.g. an ngrok tunnel). */
  readonly publicUrl?: string;
  /** Guards the admin routes (`/v1/sessions…`, `/calls…`). */
  readonly adminKey?: string;
  /** `sqlite:<path>`, `postgres://…` or `memory:`. */
  readonly databaseUrl?: string;
  readonly port?: number;
}

/** The app, listening. */
export interface RunningPhoneApp {
  readonly url: string;
  readonly earshot: EarshotServer;
  close(): Promise<void>;
}

/**
 * Seed 002's phone line: Twilio calls `POST /v1/twilio/voice` when the number rings and gets
 * TwiML that streams the call to `/v1/twilio`; every call is a session (id = `callSid`) with a
 * live transcript (observe `/v1/sessions/:callSid/events`) and a stored one. The app's own
 * routes list the calls with their figures and speak into a call.
 */
export async function startPhoneApp(options: PhoneAppOptions): Promise<RunningPhoneApp> {
  const earshot = createEarshotServer({
    provider: options.provider,
    store: await createStoreFromUrl(options.databaseUrl ?? 'memory:'),
    adminAuth: options.adminKey ? { apiKey: options.adminKey } : undefined,
    twilio: {
      authToken: options.authToken,
      publicUrl: options.publicUrl,
      // The caller's number and the userId the app knows them by come back as metadata.
      twiml: { parameters: (form) => ({ from: form.From ?? '', userId: form.From ?? '' }) },
      // Phone-call hints for a cloud provider (seed 002's phrase list); the local engine
      // ignores them.
      stream: {
        keywords: ['reminder', 'note', 'todo', 'schedule', 'meeting', 'follow up', 'action item'],
      },
    },
  });

  const http: Server = createServer((req, res) => {
    void route(earshot, options, req, res);
  });
  http.on('upgrade', (req, socket, head) => {
    if (!earshot.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve) => http.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    earshot,
    async close() {
      await earshot.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

async function route(
  earshot: EarshotServer,
  options: PhoneAppOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const calls = earshot.twilio!;
  const admin = !options.adminKey || req.headers['x-api-key'] === options.adminKey;
  // The app's routes: the live calls with seed 002's figures, and speaking into one.
  if (url.pathname === '/calls' && req.method === 'GET') {
    if (!admin) return json(res, 401, { error: 'unauthorized' });
    return json(res, 200, { calls: calls.list().map((call) => call.stats()) });
  }
  const say = /^\/calls\/([^/]+)\/say$/.exec(url.pathname);
  if (say && req.method === 'POST') {
    if (!admin) return json(res, 401, { error: 'unauthorized' });
    const session = calls.get(decodeURIComponent(say[1]!))?.sessionOf;
    if (!session) return json(res, 404, { error: 'no such call' });
    // The body is the audio (WAV, MP3, …); it is converted to the call's μ-law.
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const outcome = await session.play(Buffer.concat(chunks));
    return json(res, 200, { outcome });
  }
  if (await earshot.handleRequest(req, res)) return;
  json(res, 404, { error: 'not found' });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
