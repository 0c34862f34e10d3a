import { EarshotClient } from '@earshot/client';
import { createDeepgramProvider } from '@earshot/providers/deepgram';
import {
  type DeepgramEmulator,
  JsonSocket,
  openJsonSocket,
  scriptedTranscriber,
  startDeepgramEmulator,
} from '@earshot/testing';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/adapters/node.js';
import { anyOf, apiKeyAuth, createMemoryStore, jwtAuth, sttStreamDialect } from '../src/index.js';

// Authentication at the upgrade, before any socket is accepted: API keys and JWTs (through
// `jose`), an origin allow-list, sessions owned by their principal, admin-only REST admin.
const SERVICE_KEY = 'svc-key-0123456789abcdef';
const ADMIN_KEY = 'admin-key-0123456789abcdef';
const JWT_SECRET = 'a-shared-secret-of-at-least-32-bytes!';
const store = createMemoryStore();
let emulator: DeepgramEmulator;
let server: RunningServer;
let ws: string;

beforeAll(async () => {
  emulator = await startDeepgramEmulator({ transcriber: scriptedTranscriber([]) });
  server = await listen({
    provider: createDeepgramProvider({ apiKey: emulator.apiKey, baseUrl: emulator.endpoint }),
    store,
    port: 0,
    dialects: [sttStreamDialect()],
    authenticate: anyOf(
      apiKeyAuth({ [SERVICE_KEY]: 'billing-service', [ADMIN_KEY]: { id: 'ops', admin: true } }),
      jwtAuth({ secret: JWT_SECRET, issuer: 'https://auth.example', audience: 'earshot' }),
    ),
    allowedOrigins: ['https://app.example'],
  });
  ws = server.url.replace('http', 'ws');
});
afterAll(async () => {
  await server.close();
  await emulator.close();
});

const token = (claims: Record<string, unknown>, expiresIn = '5m') =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('https://auth.example')
    .setAudience('earshot')
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(JWT_SECRET));

describe('authentication at the upgrade', () => {
  it('refuses every WebSocket path without credentials (401), before a socket exists', async () => {
    for (const path of ['/v1/listen', '/stt-stream', '/v1/sessions/x/events']) {
      expect(await JsonSocket.refusal(`${ws}${path}`)).toBe(401);
    }
    expect(server.earshot.sessions()).toEqual([]);
  });

  it('accepts an API key in a header, and a JWT in the query (as browsers must send it)', async () => {
    const byKey = await openJsonSocket(`${ws}/stt-stream`, {
      headers: { authorization: `Bearer ${SERVICE_KEY}` },
    });
    const jwt = await token({ sub: 'dr-lee' });
    const byJwt = await openJsonSocket(`${ws}/v1/listen?token=${jwt}`);
    const owners = server.earshot.sessions().map((s) => s.metadata.principalId);
    expect(owners.sort()).toEqual(['billing-service', 'dr-lee']);
    byKey.close();
    byJwt.close();
  });

  it('refuses expired, wrongly signed and wrongly addressed JWTs, and wrong keys', async () => {
    const expired = await token({ sub: 'dr-lee' }, '-1m');
    const forged = await new SignJWT({ sub: 'dr-lee' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://auth.example')
      .setAudience('earshot')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('another-secret-of-at-least-32-bytes'));
    const elsewhere = await new SignJWT({ sub: 'dr-lee' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://auth.example')
      .setAudience('another-service')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(JWT_SECRET));
    for (const credential of [expired, forged, elsewhere, 'svc-key-wrong-0123456789']) {
      expect(await JsonSocket.refusal(`${ws}/v1/listen?token=${credential}`)).toBe(401);
    }
  });

  it('refuses a browser page of another origin (403), and lets the allowed one and non-browsers in', async () => {
    const headers = { authorization: `Bearer ${SERVICE_KEY}` };
    expect(
      await JsonSocket.refusal(`${ws}/v1/listen`, { ...headers, origin: 'https://evil.example' }),
    ).toBe(403);
    const allowed = await openJsonSocket(`${ws}/v1/listen`, {
      headers: { ...headers, origin: 'https://app.example' },
    });
    allowed.close();
  });

  it("resumes with the session's own resume token, and refuses another principal's session", async () => {
    const jwt = await token({ sub: 'dr-lee' });
    const client = new EarshotClient({ url: `${ws}/v1/listen`, token: jwt });
    await client.start({ audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 } });
    const sessionId = client.sessionId!;
    expect(server.earshot.getSession(sessionId)?.metadata.principalId).toBe('dr-lee');
    // The resume token speaks for the session's owner: the client's reconnect gets back in.
    const resumed = await openJsonSocket(`${ws}/v1/listen?token=${client.resumeToken}`);
    resumed.close();
    // Another principal, authenticated as itself, may not take the session over.
    const other = await token({ sub: 'dr-evil' });
    expect(
      await JsonSocket.refusal(`${ws}/v1/listen?token=${client.resumeToken}`, {
        authorization: `Bearer ${other}`,
      }),
    ).toBe(403);
  });

  it('opens the REST admin to admin principals only', async () => {
    const get = (authorization?: string) =>
      fetch(`${server.url}/v1/sessions`, authorization ? { headers: { authorization } } : {});
    expect((await get()).status).toBe(401);
    expect((await get(`Bearer ${SERVICE_KEY}`)).status).toBe(401);
    expect((await get(`Bearer ${ADMIN_KEY}`)).status).toBe(200);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('lets a principal read, observe and end its own sessions without admin rights, and no one else’s', async () => {
    const mine = await token({ sub: 'dr-lee' });
    const theirs = await token({ sub: 'dr-evil' });
    const client = new EarshotClient({ url: `${ws}/v1/listen`, token: mine });
    await client.start({ audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 } });
    const path = `${server.url}/v1/sessions/${client.sessionId}`;
    const as = (jwt?: string, init: RequestInit = {}) =>
      fetch(path, { ...init, headers: jwt ? { authorization: `Bearer ${jwt}` } : {} });

    expect((await as()).status).toBe(401);
    const refused = await as(theirs);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: 'forbidden' } });
    expect((await as(mine)).status).toBe(200);
    // Listing every session stays an admin's.
    expect(
      (await fetch(`${server.url}/v1/sessions`, { headers: { authorization: `Bearer ${mine}` } }))
        .status,
    ).toBe(401);

    const events = `${ws}/v1/sessions/${client.sessionId}/events`;
    expect(await JsonSocket.refusal(events, { authorization: `Bearer ${theirs}` })).toBe(403);
    const observer = await openJsonSocket(`${events}?token=${mine}`);
    await observer.next('session_info');

    const end = (jwt: string) =>
      fetch(`${path}/end`, { method: 'POST', headers: { authorization: `Bearer ${jwt}` } });
    expect((await end(theirs)).status).toBe(403);
    expect(server.earshot.getSession(client.sessionId!)).toBeDefined();
    expect((await end(mine)).status).toBe(200);
    await observer.next('closed');
    observer.close();
  });
});
