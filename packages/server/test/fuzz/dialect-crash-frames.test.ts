import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type JsonSocket, openJsonSocket } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Frames found by fuzzing (live-server.fuzz.test.ts) that made a dialect's message handler
// throw: nothing catches a throw from a `ws` message listener, so each took the server process
// down. They are sent to a server in a process of its own, with no handler for uncaught
// exceptions, as in production: it must answer each, and still be alive after all of them.

const DEEP = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;

const CASES = [
  {
    name: 'ambient: an unknown `type` nested 20 000 levels deep (JSON.stringify overflowed)',
    path: '/ws/transcribe',
    frame: `{"type":${DEEP}}`,
  },
  {
    name: 'voice-agent: an unknown `type` nested 20 000 levels deep (JSON.stringify overflowed)',
    path: '/ws/candidate-7',
    frame: `{"type":${DEEP}}`,
  },
  {
    name: 'stt-stream: an `action` that is {"toString": 1} (String() threw a TypeError)',
    path: '/stt-stream',
    frame: '{"action":{"toString":1}}',
  },
  {
    name: 'stt-stream: an `action` nested 20 000 levels deep (String() overflowed)',
    path: '/stt-stream',
    frame: `{"action":${DEEP}}`,
  },
  {
    name: 'stt-stream: a configure whose audio_format.encoding is {"toString": 1} (parseAudioFormat threw)',
    path: '/stt-stream',
    frame: '{"action":"configure","audio_format":{"encoding":{"toString":1}}}',
  },
  {
    name: 'stt-stream: a configure whose sample_rate is {"toString": 1, "valueOf": 1} (Number() threw)',
    path: '/stt-stream',
    frame: '{"action":"configure","audio_format":{"sample_rate":{"toString":1,"valueOf":1}}}',
  },
];

const SERVER_SCRIPT = fileURLToPath(new URL('./dialect-server-process.ts', import.meta.url));

let child: ChildProcess;
let wsBase: string;
let exit: { code: number | null; stderr: string } | undefined;

beforeAll(async () => {
  child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@earshot/source', SERVER_SCRIPT],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  child.once('exit', (code) => {
    exit = { code, stderr };
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk) => {
      out += String(chunk);
      if (out.includes('\n')) resolve(out.split('\n')[0]!.trim());
    });
    child.once('exit', () => reject(new Error(`the server process exited: ${stderr}`)));
  });
  wsBase = url.replace('http', 'ws');
});

afterAll(() => {
  child?.kill();
});

/** Whether the server answers a WebSocket ping on `socket` within a few seconds. */
function answersPing(socket: JsonSocket): Promise<boolean> {
  const ws = socket.socket;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 3_000);
    ws.once('pong', () => {
      clearTimeout(timer);
      resolve(true);
    });
    ws.once('close', () => {
      clearTimeout(timer);
      resolve(false);
    });
    ws.ping();
  });
}

describe('frames that once took the server process down', () => {
  for (const { name, path, frame } of CASES) {
    it(`are answered with the dialect's error: ${name}`, async () => {
      const socket = await openJsonSocket(`${wsBase}${path}`);
      socket.socket.on('error', () => {});
      socket.sendText(frame);
      await socket.next('error');
      expect(await answersPing(socket), 'the connection answers after the frame').toBe(true);
      expect(exit, 'the server process exited').toBeUndefined();
      socket.close();
    });
  }
});
