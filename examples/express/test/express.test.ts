import { transcribeFile } from '@earshot/client/node';
import { createLocalProvider } from '@earshot/providers/local';
import { referenceTranscript, speechFixtures, wordErrorRate } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from '../src/app.js';

const provider = createLocalProvider({ maxConcurrentStreams: 1 });
let app: RunningApp;

beforeAll(async () => {
  app = await startApp(provider);
});

afterAll(async () => {
  await app.close();
  await provider.close();
});

describe('Earshot mounted in Express', () => {
  it("keeps the app's own routes", async () => {
    expect(await (await fetch(`${app.url}/api/hello`)).json()).toEqual({ hello: 'from express' });
  });

  it('mints a session over REST and transcribes over the WebSocket with its token', async () => {
    const created = await fetch(`${app.url}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { user: 'express-example' } }),
    });
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };
    const [fixture] = await speechFixtures();
    const result = await transcribeFile(
      `${app.url.replace('http', 'ws')}/v1/listen`,
      fixture!.path,
      {
        token,
        pace: 'fast',
      },
    );
    const text = result.finals.map((f) => f.text).join(' ');
    expect(
      wordErrorRate((await referenceTranscript(fixture!.path)).join(' '), text),
    ).toBeLessThanOrEqual(0.1);
  });
});
