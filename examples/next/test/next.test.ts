import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { transcribeFile } from '@earshot/client/node';
import { referenceTranscript, speechFixtures, wordErrorRate } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The Next.js example as `pnpm dev` runs it (its custom server under tsx, Next in dev mode),
// on a free port: Next renders the page, Earshot on the same server transcribes.
const dir = join(import.meta.dirname, '..');
let server: ChildProcess;
let url: string;
let output = '';

beforeAll(async () => {
  server = spawn(join(dir, 'node_modules', '.bin', 'tsx'), [join(dir, 'server.ts')], {
    cwd: dir,
    env: { ...process.env, PORT: '0', NEXT_TELEMETRY_DISABLED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stderr?.on('data', (d) => (output += d));
  url = await new Promise<string>((resolve, reject) => {
    server.stdout?.on('data', (d) => {
      output += d;
      const found = /Next \+ Earshot ready: (http:\/\/\S+)/.exec(output);
      if (found) resolve(found[1]!);
    });
    server.once('exit', (code) => reject(new Error(`the server exited (${code}):\n${output}`)));
  });
}, 120_000);

afterAll(async () => {
  if (server?.exitCode === null) {
    server.kill('SIGTERM');
    await once(server, 'exit');
  }
});

describe('Earshot in a Next.js custom server', () => {
  it('Next renders the page with the mic button', async () => {
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Earshot on Next.js');
    expect(html).toContain('id="mic"');
  }, 120_000);

  it('Earshot on the same server transcribes over /v1/listen', async () => {
    const [fixture] = await speechFixtures();
    const result = await transcribeFile(`${url.replace('http', 'ws')}/v1/listen`, fixture!.path, {
      pace: 'fast',
    });
    const text = result.finals.map((f) => f.text).join(' ');
    expect(
      wordErrorRate((await referenceTranscript(fixture!.path)).join(' '), text),
    ).toBeLessThanOrEqual(0.1);
  });
});
