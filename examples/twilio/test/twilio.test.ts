import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalProvider } from '@earshot/providers/local';
import { TwilioCaller, until } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningPhoneApp, startPhoneApp } from '../src/app.js';

// The example as Twilio drives it: the number rings (signed webhook → TwiML), the call's
// audio streams in (signed upgrade), the app lists the call and speaks into it.
const TOKEN = 'example-auth-token';
const provider = createLocalProvider({ maxConcurrentStreams: 1 });
const dir = mkdtempSync(join(tmpdir(), 'earshot-phone-'));
let app: RunningPhoneApp;

beforeAll(async () => {
  app = await startPhoneApp({ provider, authToken: TOKEN, adminKey: 'admin' });
});
afterAll(async () => {
  await app.close();
  await provider.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the Twilio example', () => {
  it('answers the ringing number with TwiML that streams the call here', async () => {
    const url = `${app.url}/v1/twilio/voice`;
    const form = { CallSid: 'CA42', From: '+15550100' };
    const data = Object.keys(form)
      .sort()
      .reduce((text, key) => text + key + form[key as keyof typeof form], url);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'x-twilio-signature': createHmac('sha1', TOKEN).update(data).digest('base64') },
      body: new URLSearchParams(form),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(
      `<Connect><Stream url="${app.url.replace('http', 'ws')}/v1/twilio"><Parameter name="from" value="+15550100"/><Parameter name="userId" value="+15550100"/></Stream></Connect>`,
    );
  });

  it('lists the call with its figures and speaks into it', async () => {
    const caller = await TwilioCaller.connect({
      url: `${app.url.replace('http', 'ws')}/v1/twilio`,
      authToken: TOKEN,
      customParameters: { userId: '+15550100' },
    });
    await until(
      () => app.earshot.twilio?.get(caller.callSid)?.sessionOf?.status === 'active',
      10_000,
    );
    await caller.streamAudio(new Uint8Array(160 * 25).fill(0xff), { pace: 'fast' });

    const listed = await fetch(`${app.url}/calls`, { headers: { 'x-api-key': 'admin' } });
    const { calls } = (await listed.json()) as {
      calls: { callSid: string; audioChunksReceived: number }[];
    };
    expect(calls).toMatchObject([{ callSid: caller.callSid }]);

    const wav = join(dir, 'hello.wav');
    execFileSync('ffmpeg', [
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=300:duration=0.4',
      '-ar',
      '16000',
      wav,
    ]);
    const said = await fetch(`${app.url}/calls/${caller.callSid}/say`, {
      method: 'POST',
      headers: { 'x-api-key': 'admin' },
      body: readFileSync(wav),
    });
    expect(await said.json()).toEqual({ outcome: 'played' });
    expect(caller.received.filter((f) => f.event === 'media')).toHaveLength(20);
    expect(caller.received.at(-1)).toMatchObject({ event: 'mark' });
    expect((await caller.stop()).code).toBe(1000);
  });
});
