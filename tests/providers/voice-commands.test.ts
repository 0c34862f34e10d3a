import { EarshotClient } from '@earshot/client';
import { createCommandDetector, createCommandResolver } from '@earshot/commands';
import type { CommandMessage } from '@earshot/protocol';
import { createDeepgramProvider } from '@earshot/providers/deepgram';
import { createMemoryStore } from '@earshot/server';
import { listen, type RunningServer } from '@earshot/server/node';
import {
  type DeepgramEmulator,
  scriptedTranscriber,
  startDeepgramEmulator,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Voice commands through a whole server, with transcripts scripted by the Deepgram emulator
// (interims, then finals) so the words are known: phases, handlers, storage, per-tenant sets.
const SCRIPT = [
  // The emulator's interim is an utterance's first half: here already a command.
  { text: 'sully add a note patient is stable and comfortable today thanks', start: 0.2, end: 1.8 },
  { text: 'sully order a lipid panel', start: 2.4, end: 3.6 },
];
const defaults = {
  wakeWords: ['sully'],
  lexicons: { lab: ['lipid panel', 'complete blood count'] },
  commands: [
    { name: 'add_note', patterns: ['add [a] note {text}'] },
    { name: 'order_lab', patterns: ['order [a] {test:lab}'] },
  ],
};
const store = createMemoryStore();
let emulator: DeepgramEmulator;
let server: RunningServer;

beforeAll(async () => {
  emulator = await startDeepgramEmulator({ transcriber: scriptedTranscriber(SCRIPT) });
  server = await listen({
    provider: createDeepgramProvider({ apiKey: emulator.apiKey, baseUrl: emulator.endpoint }),
    store,
    port: 0,
    commands: {
      resolve: createCommandResolver({
        defaults,
        tenantOf: (metadata) => metadata.org as string | undefined,
        overridesOf: (org) => (org === 'no-commands' ? null : undefined),
      }),
      onCommand: async (match, context) => {
        if (match.name === 'order_lab') throw new Error('the lab system is down');
        const stored = await context.store.getSession(context.sessionId);
        return { noted: match.slots.text, by: stored?.metadata.user };
      },
    },
  });
});
afterAll(async () => {
  await server.close();
  await emulator.close();
});

/** Streams 4 s of (scripted) speech; resolves the command messages the client got. */
async function speak(metadata: Record<string, string>) {
  const client = new EarshotClient({ url: `${server.url.replace('http', 'ws')}/v1/listen` });
  const commands: CommandMessage[] = [];
  client.on('command', (c) => commands.push(c));
  await client.start({
    audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
    interimResults: true,
    metadata,
  });
  // A quarter second at a time, a little faster than real time: interims come before finals.
  const quarter = new Uint8Array(8000).fill(1);
  for (let q = 0; q < 16; q++) {
    client.sendAudio(quarter);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await client.stop();
  return { commands, sessionId: client.sessionId! };
}

describe('voice commands in a session', () => {
  it('confirms each command once, runs its handler with the store, and stores every phase', async () => {
    const { commands, sessionId } = await speak({ user: 'dr-lee' });
    const phases = commands.map((c) => `${c.name}:${c.phase}`);
    expect(phases[0]).toBe('add_note:tentative');
    // Interims may show a command before its final (tentative); each final confirms it once.
    expect(phases.filter((p) => !p.endsWith(':tentative'))).toEqual([
      'add_note:confirmed',
      'add_note:executed',
      'order_lab:confirmed',
      'order_lab:failed',
    ]);
    expect(commands.find((c) => c.phase === 'executed')?.result).toEqual({
      noted: 'patient is stable and comfortable today thanks',
      by: 'dr-lee',
    });
    expect(commands.find((c) => c.phase === 'failed')).toMatchObject({
      slots: { test: 'lipid panel' },
      error: 'the lab system is down',
    });
    const events = (await store.getEvents(sessionId)).filter((e) => e.type === 'command');
    expect(events.map((e) => `${e.data.name}:${e.data.phase}`)).toEqual(
      phases.filter((p) => !p.endsWith(':tentative')),
    );
  });

  it("asks the provider to boost the commands' vocabulary after the client's keywords", async () => {
    const before = emulator.connections.length;
    await speak({ user: 'dr-lee' });
    // Nova-3 takes key terms; the client asked for none, so the wake word comes first.
    expect(emulator.connections[before]?.query.getAll('keyterm')).toEqual([
      'sully',
      'lipid panel',
      'complete blood count',
    ]);
  });

  it('has no commands for a tenant whose set is turned off', async () => {
    const before = emulator.connections.length;
    const { commands } = await speak({ user: 'dr-lee', org: 'no-commands' });
    expect(commands).toEqual([]);
    expect(emulator.connections[before]?.query.getAll('keyterm')).toEqual([]);
  });

  it('does not show a command an interim only begins', () => {
    const detector = createCommandDetector(defaults);
    expect(detector.detect('sully add a')).toEqual([]);
    expect(detector.detect('sully add a note patient')).toMatchObject([{ name: 'add_note' }]);
  });
});
