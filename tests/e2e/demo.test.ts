import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transcribeFile } from '@earshot/client/node';
import { referenceTranscript, speechFixtures, TwilioCaller, wordErrorRate } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The demo as `npm run demo` runs it (its entry under tsx, on the built packages), on a free
// port and a throwaway database.
const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'earshot-demo-'));
let demo: ChildProcess;
let url: string;
let output = '';

/** Starts the demo as `npm run demo` does; resolves once it says it is ready. */
async function startDemo(): Promise<void> {
  output = '';
  demo = spawn(
    join(root, 'node_modules', '.bin', 'tsx'),
    [join(root, 'examples', 'demo', 'src', 'main.ts')],
    {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${join(dir, 'demo.db')}`,
        TWILIO_AUTH_TOKEN: 'demo-test-token',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  demo.stderr?.on('data', (d) => (output += d));
  url = await new Promise<string>((resolve, reject) => {
    demo.stdout?.on('data', (d) => {
      output += d;
      const found = /Earshot demo ready: (http:\/\/\S+)/.exec(output);
      if (found) resolve(found[1]!);
    });
    demo.once('exit', (code) =>
      reject(new Error(`demo exited (${code}) before it was ready:\n${output}`)),
    );
  });
}

beforeAll(startDemo);

afterAll(async () => {
  if (demo.exitCode === null) {
    demo.kill('SIGTERM');
    await once(demo, 'exit');
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('the demo server', () => {
  it('serves the page with the microphone button at /', async () => {
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('id="mic"');
    expect(page).toContain('src="/assets/demo-page.js"');
    // The page's script, with @earshot/client bundled in, speaks to the canonical endpoint.
    const script = await fetch(`${url}/assets/demo-page.js`);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect(await script.text()).toContain('/v1/listen');
  });

  it('answers /healthz with the local engine and the SQLite store', async () => {
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({
      status: 'ok',
      provider: 'local',
      store: 'sqlite',
    });
  });

  let sessionId = '';
  it('transcribes speech over its WebSocket', async () => {
    const [fixture] = await speechFixtures();
    const { finals, ready } = await transcribeFile(
      `${url.replace('http', 'ws')}/v1/listen`,
      fixture!.path,
      { pace: 'fast' },
    );
    const reference = (await referenceTranscript(fixture!.path)).join(' ');
    expect(wordErrorRate(reference, finals.map((f) => f.text).join(' '))).toBeLessThanOrEqual(0.1);
    sessionId = ready.sessionId;
  });

  it('keeps its sessions in the SQLite file of DATABASE_URL across a restart', async () => {
    demo.kill('SIGTERM');
    await once(demo, 'exit');
    await startDemo();
    const res = await fetch(`${url}/v1/sessions/${sessionId}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { transcript: string; session: { status: string } };
    expect(body.session.status).toBe('ended');
    expect(body.transcript.length).toBeGreaterThan(10);
  });

  it('takes a phone call on /v1/twilio, signed with TWILIO_AUTH_TOKEN', async () => {
    const stream = `${url.replace('http', 'ws')}/v1/twilio`;
    await expect(TwilioCaller.connect({ url: stream, authToken: 'wrong' })).rejects.toMatchObject({
      status: 403,
    });
    const caller = await TwilioCaller.connect({ url: stream, authToken: 'demo-test-token' });
    await caller.streamAudio(new Uint8Array(8000).fill(0xff), { pace: 'fast' });
    expect((await caller.stop()).code).toBe(1000);
  });

  it('stops cleanly on SIGTERM', async () => {
    demo.kill('SIGTERM');
    const [code] = await once(demo, 'exit');
    expect(code, output).toBe(0);
  });
});
