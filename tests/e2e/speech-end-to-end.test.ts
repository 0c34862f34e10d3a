import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EarshotClient } from '@earshot/client';
import { streamFile, transcribeFile } from '@earshot/client/node';
import type { TranscriptMessage } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import { createSqliteStore, type Store } from '@earshot/server';
import { listen, type RunningServer } from '@earshot/server/node';
import {
  readWavPcm16,
  referenceTranscript,
  type SpeechFixture,
  speechFixtures,
  synthesizeSpeech,
  wordErrorRate,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Real speech through the whole SDK: EarshotClient → server → local PocketSphinx engine →
// SQLite store → back. The reference is what `pocketsphinx_continuous` prints for the same
// file, so the measure is what Earshot adds or loses, not the engine's own accuracy.
const MAX_WER = 0.1;

const dir = mkdtempSync(join(tmpdir(), 'earshot-e2e-'));
const dbPath = join(dir, 'e2e.db');
const provider = createLocalProvider({ maxConcurrentStreams: 2 });
let store: Store;
let server: RunningServer;
let wsUrl: string;
let fixtures: SpeechFixture[];

beforeAll(async () => {
  store = await createSqliteStore({ path: dbPath });
  server = await listen({ provider, store, port: 0 });
  wsUrl = `${server.url.replace('http', 'ws')}/v1/listen`;
  fixtures = await speechFixtures();
  const spoken = await synthesizeSpeech(
    'the quick brown fox jumps over the lazy dog. please call me back tomorrow morning.',
    { engine: 'espeak-ng' },
  );
  fixtures.push({ name: 'espeak-ng sentence', path: spoken, text: '' });
});

afterAll(async () => {
  await server.close();
  await provider.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const cliBin = join(import.meta.dirname, '..', '..', 'packages', 'client', 'dist', 'cli.js');
const joined = (finals: readonly TranscriptMessage[]) => finals.map((f) => f.text).join(' ');

describe('real speech through EarshotClient, the server and the local engine', () => {
  it('yields the finals pocketsphinx_continuous prints for the same audio (WER ≤ 0.10 on every recording)', async () => {
    const rates: string[] = [];
    for (const fixture of fixtures) {
      const reference = (await referenceTranscript(fixture.path)).join(' ');
      const client = new EarshotClient({ url: wsUrl });
      const finals: TranscriptMessage[] = [];
      const interims: TranscriptMessage[] = [];
      client.on('transcript', (t) => (t.isFinal ? finals : interims).push(t));
      const { ready } = await startAndStream(client, fixture.path);
      const closed = await client.stop();

      const wer = wordErrorRate(reference, joined(finals));
      rates.push(`${fixture.name}: ${wer.toFixed(3)}`);
      expect(
        wer,
        `${fixture.name}\n ref: ${reference}\n got: ${joined(finals)}`,
      ).toBeLessThanOrEqual(MAX_WER);
      expect(ready.provider).toBe('local');
      expect(closed.summary.finalSegments).toBe(finals.length);
      expect(interims.length, 'interim results while speaking').toBeGreaterThan(0);
      // One final per segment, and every interim belongs to a segment that got its final.
      const finalIds = finals.map((f) => f.segmentId);
      expect(new Set(finalIds).size).toBe(finalIds.length);
      for (const interim of interims) expect(finalIds).toContain(interim.segmentId);
      // Times are on the session's audio clock and move forward.
      for (let i = 1; i < finals.length; i++)
        expect(finals[i]!.start).toBeGreaterThanOrEqual(finals[i - 1]!.start);
      for (const f of finals) expect(f.end).toBeLessThanOrEqual(closed.summary.audioSeconds + 0.5);
    }
    console.log(`WER against pocketsphinx_continuous: ${rates.join(', ')}`);
  });

  it('gives the same words through the earshot CLI, run as its built bin', async () => {
    const fixture = fixtures[1]!;
    const reference = (await referenceTranscript(fixture.path)).join(' ');
    const { stdout } = await promisify(execFile)(process.execPath, [
      cliBin,
      'transcribe',
      fixture.path,
      '--url',
      wsUrl,
      '--fast',
    ]);
    const lines = stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(wordErrorRate(reference, lines.join(' '))).toBeLessThanOrEqual(MAX_WER);
  });

  it('has every final stored after stop, over REST and in the SQLite file after a reopen', async () => {
    const fixture = fixtures[2]!;
    const { ready, finals, closed } = await transcribeFile(wsUrl, fixture.path, { pace: 'fast' });
    expect(finals.length).toBeGreaterThan(0);
    expect(closed.reason).toBe('stopped');

    const res = await fetch(`${server.url}/v1/sessions/${ready.sessionId}`);
    const body = (await res.json()) as {
      session: { status: string; summary: { finalSegments: number } };
      segments: { segmentId: string; text: string; start: number; end: number }[];
    };
    expect(body.session.status).toBe('ended');
    expect(body.session.summary.finalSegments).toBe(finals.length);
    expect(body.segments.map((s) => [s.segmentId, s.text, s.start, s.end])).toEqual(
      finals.map((f) => [f.segmentId, f.text, f.start, f.end]),
    );

    // A second handle on the same file reads what the server committed.
    const reader = await createSqliteStore({ path: dbPath });
    const stored = await reader.getSegments(ready.sessionId);
    await reader.close();
    expect(stored.map((s) => s.text)).toEqual(finals.map((f) => f.text));
  });

  it('streams two sessions at once without mixing their words', async () => {
    const [a, b] = [fixtures[0]!, fixtures[3]!];
    const [ra, rb] = await Promise.all([
      transcribeFile(wsUrl, a.path, { pace: 'fast' }),
      transcribeFile(wsUrl, b.path, { pace: 'fast' }),
    ]);
    expect(
      wordErrorRate((await referenceTranscript(a.path)).join(' '), joined(ra.finals)),
    ).toBeLessThanOrEqual(MAX_WER);
    expect(
      wordErrorRate((await referenceTranscript(b.path)).join(' '), joined(rb.finals)),
    ).toBeLessThanOrEqual(MAX_WER);
    expect(ra.ready.sessionId).not.toBe(rb.ready.sessionId);
  });

  it('flushes an utterance on finalize without waiting for a pause', async () => {
    const { pcm } = await readWavPcm16(fixtures[0]!.path);
    const client = new EarshotClient({ url: wsUrl });
    await client.start({ audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 } });
    const firstFinal = new Promise<TranscriptMessage>((resolve) =>
      client.on('transcript', (t) => t.isFinal && resolve(t)),
    );
    // 1.5 s into the first sentence: mid-utterance, with no pause for the engine to end it.
    client.sendAudio(pcm.subarray(0, 48_000));
    client.finalize();
    const final = await firstFinal;
    expect(final.text.split(' ').length).toBeGreaterThan(0);
    expect(client.state).toBe('streaming');
    await client.stop();
  });
});

async function startAndStream(client: EarshotClient, path: string) {
  const ready = await client.start({
    audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
    interimResults: true,
  });
  // Twice real time: faster than a person speaks, slow enough that the engine (~0.45 CPU-s per
  // audio second) keeps up on a busy two-core machine, so interims flow while audio still
  // arrives, as they would live (the session sends no interims once the client has stopped).
  await streamFile(client, path, { pace: 2 });
  return { ready };
}
