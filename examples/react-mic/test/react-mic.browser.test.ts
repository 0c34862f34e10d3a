import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createLocalProvider } from '@earshot/providers/local';
import { listen, type RunningServer } from '@earshot/server/node';
import { speechFixtures } from '@earshot/testing';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The example's mic button, bundled for the browser and run in headless Chromium with a
// recording as the microphone, against an Earshot server with the local engine.
const provider = createLocalProvider({ maxConcurrentStreams: 1 });
let earshot: RunningServer;
let page: Server;
let pageUrl: string;
let browser: Browser;

beforeAll(async () => {
  earshot = await listen({ provider, port: 0 });
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('../src/main.tsx', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    jsx: 'automatic',
    minify: true,
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const script = bundle.outputFiles[0]!.contents;
  const html =
    '<!doctype html><meta charset="utf-8"><div id="root"></div><script type="module" src="/main.js"></script>';
  page = createServer((req, res) => {
    if (req.url?.startsWith('/main.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    }
  });
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  const ws = `${earshot.url.replace('http', 'ws')}/v1/listen`;
  pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/?ws=${encodeURIComponent(ws)}`;
  const [fixture] = await speechFixtures();
  const speech = fixture!.path;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${speech}%noloop`,
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => page?.close(resolve));
  await earshot?.close();
  await provider.close();
});

describe('the React mic button (useTranscription)', () => {
  it('records, shows interim then final words, and goes back to idle on stop', async () => {
    const tab = await browser.newPage();
    const problems: string[] = [];
    tab.on('pageerror', (e) => problems.push(String(e)));
    await tab.goto(pageUrl);
    await tab.click('#mic');
    await tab.waitForSelector('#mic[data-status="recording"]', { timeout: 15_000 });
    await tab.waitForFunction(
      () => document.getElementById('interim')?.textContent !== '',
      undefined,
      {
        timeout: 15_000,
      },
    );
    // The recording plays in real time (about 7 s); then its final arrives.
    await tab.waitForFunction(
      () => (document.getElementById('finals')?.textContent ?? '').split(' ').length > 10,
      undefined,
      { timeout: 30_000 },
    );
    await tab.click('#mic');
    await tab.waitForSelector('#mic[data-status="idle"]', { timeout: 15_000 });
    const text = await tab.textContent('#finals');
    console.log(`react mic button heard: ${text}`);
    expect(text).toMatch(/to consider/);
    expect(await tab.$('#error')).toBeNull();
    expect(problems).toEqual([]);
    await tab.close();
  });
});
