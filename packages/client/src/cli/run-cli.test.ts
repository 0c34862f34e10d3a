import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SPEECH_WAV } from '../../test/fixtures.js';
import {
  final,
  interim,
  refusedUrl,
  type ScriptedServer,
  startScriptedServer,
} from '../../test/scripted-server.js';
import { runCli } from './run-cli.js';

let server: ScriptedServer | undefined;

afterEach(async () => {
  try {
    await server?.assertAllClosed();
    for (const conn of server?.connections ?? []) expect(conn.protocolErrors).toEqual([]);
  } finally {
    await server?.close();
    server = undefined;
  }
});

function io() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    stdout: { write: (text: string) => (out.stdout += text) },
    stderr: { write: (text: string) => (out.stderr += text) },
  };
}

/** A server that sends an interim on the first audio frame and two finals on stop. */
function transcribingServer() {
  let sentInterim = false;
  return startScriptedServer({
    onAudio: (conn) => {
      if (sentInterim) return;
      sentInterim = true;
      conn.send(interim('s1', 'she'));
    },
    finalsOnStop: [final('s1', 'she was sensible'), final('s2', 'and clever', 1, 2)],
  });
}

describe('earshot transcribe', () => {
  it('prints each final on its own line and exits 0', async () => {
    server = await transcribingServer();
    const cli = io();

    const code = await runCli(['transcribe', SPEECH_WAV, '--url', server.url, '--fast'], cli);

    expect(code).toBe(0);
    expect(cli.out.stdout).toBe('she was sensible\nand clever\n');
    expect(cli.out.stderr).toBe('');
    expect(await server.connections[0]?.message('start')).toMatchObject({
      language: 'en-US',
      interimResults: false,
      audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
    });
  });

  it('prints one JSON transcript message per line with --json, and passes the token', async () => {
    server = await transcribingServer();
    const cli = io();

    const code = await runCli(
      [
        'transcribe',
        SPEECH_WAV,
        '--url',
        server.url,
        '--fast',
        '--json',
        '--token',
        'tk',
        '--language',
        'en-GB',
      ],
      cli,
    );

    expect(code).toBe(0);
    const lines = cli.out.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.map((m) => [m.type, m.isFinal, m.text])).toEqual([
      ['transcript', true, 'she was sensible'],
      ['transcript', true, 'and clever'],
    ]);
    const conn = server.connections[0];
    expect(conn?.requestUrl).toBe('/v1/listen?token=tk');
    expect(await conn?.message('start')).toMatchObject({ language: 'en-GB' });
  });

  it('shows interims on stderr, rewritten in place, with --interim', async () => {
    server = await transcribingServer();
    const cli = io();

    const code = await runCli(
      ['transcribe', SPEECH_WAV, '--url', server.url, '--fast', '--interim'],
      cli,
    );

    expect(code).toBe(0);
    expect(cli.out.stdout).toBe('she was sensible\nand clever\n');
    expect(cli.out.stderr).toBe('\rshe\r   \r');
    expect(await server.connections[0]?.message('start')).toMatchObject({ interimResults: true });
  });

  it('exits non-zero with one clear line when the connection is refused', async () => {
    const url = await refusedUrl();
    const cli = io();

    const code = await runCli(['transcribe', SPEECH_WAV, '--url', url, '--fast'], cli);

    expect(code).toBe(1);
    expect(cli.out.stdout).toBe('');
    expect(cli.out.stderr).toMatch(
      /^earshot: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/v1\/listen: .*ECONNREFUSED.* \(connection_failed\)\n$/,
    );
  });

  it('exits non-zero with the server error code when the server refuses the session', async () => {
    server = await startScriptedServer({
      onStart: (conn) => {
        conn.send({ type: 'error', code: 'unauthorized', message: 'bad token', fatal: true });
        conn.socket.close(1008, 'unauthorized');
      },
    });
    const cli = io();

    const code = await runCli(['transcribe', SPEECH_WAV, '--url', server.url], cli);

    expect(code).toBe(1);
    expect(cli.out.stderr).toBe('earshot: bad token (unauthorized)\n');
  });

  it('exits non-zero when the file does not exist', async () => {
    const cli = io();
    const code = await runCli(['transcribe', '/nonexistent/talk.wav'], cli);
    expect(code).toBe(1);
    expect(cli.out.stderr).toMatch(/^earshot: ENOENT.*\/nonexistent\/talk\.wav.*\n$/);
  });

  it('exits 130 when interrupted', async () => {
    server = await startScriptedServer();
    const controller = new AbortController();
    const cli = io();
    const running = runCli(['transcribe', SPEECH_WAV, '--url', server.url], {
      ...cli,
      signal: controller.signal,
    });
    const conn = await server.connection(0);
    await conn.until(() => conn.audioFrames.length > 0);

    controller.abort();

    expect(await running).toBe(130);
    expect(cli.out.stderr).toBe('earshot: interrupted\n');
  });
});

describe('earshot', () => {
  it('prints help with --help and exits 0', async () => {
    const cli = io();
    expect(await runCli(['--help'], cli)).toBe(0);
    expect(cli.out.stdout).toContain('Usage: earshot transcribe <file>');
  });

  it('prints the package version with --version', async () => {
    const cli = io();
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    expect(await runCli(['--version'], cli)).toBe(0);
    expect(cli.out.stdout).toBe(`${pkg.version}\n`);
  });

  it('exits 2 on usage errors', async () => {
    for (const argv of [[], ['listen'], ['transcribe'], ['transcribe', 'a.wav', '--nope']]) {
      const cli = io();
      expect(await runCli(argv, cli)).toBe(2);
      expect(cli.out.stderr).toMatch(/^earshot: .+\nTry 'earshot --help'\.\n$/);
    }
  });
});
