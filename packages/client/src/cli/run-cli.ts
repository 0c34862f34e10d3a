import { parseArgs } from 'node:util';
import { EarshotError, type TranscriptMessage } from '@earshot/protocol';
import type { WebSocketConstructor } from '../earshot-client.js';
import { transcribeFile } from '../node/transcribe-file.js';
import { CLIENT_VERSION } from '../version.js';

/** Where the CLI writes, and what it may be given from outside (a signal for Ctrl-C). */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Aborting it ends a running transcription (exit code 130). */
  signal?: AbortSignal;
  /** For tests: the WebSocket implementation. */
  WebSocket?: WebSocketConstructor;
}

/** Exit codes of the `earshot` command. */
export const ExitCode = { Ok: 0, Failed: 1, Usage: 2, Aborted: 130 } as const;

const DEFAULT_URL = 'ws://localhost:8787/v1/listen';

const HELP = `Usage: earshot transcribe <file> [options]

Streams a WAV (PCM16) or raw PCM16/16 kHz/mono file to an Earshot server and prints each final
transcript as it arrives.

Options:
  --url <url>         server endpoint (default ${DEFAULT_URL})
  --token <token>     authentication token (sent as the "token" query parameter)
  --language <tag>    BCP-47 language tag (default en-US)
  --fast              send as fast as the connection allows instead of in real time
  --interim           show interim transcripts on stderr
  --json              print one JSON transcript message per line
  -h, --help          show this help
  -v, --version       show the version
`;

/**
 * The `earshot` command as a function: parses `argv` (without `node` and the script), runs,
 * and returns the exit code. Writes results to `io.stdout` and one-line errors to `io.stderr`.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.stderr.write(`earshot: ${(error as Error).message}\nTry 'earshot --help'.\n`);
    return ExitCode.Usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(HELP);
    return ExitCode.Ok;
  }
  if (values.version) {
    io.stdout.write(`${CLIENT_VERSION}\n`);
    return ExitCode.Ok;
  }
  const [command, file, ...extra] = positionals;
  if (command !== 'transcribe' || file === undefined || extra.length > 0) {
    const problem =
      command === undefined
        ? 'missing command'
        : command !== 'transcribe'
          ? `unknown command "${command}"`
          : file === undefined
            ? 'missing <file>'
            : `unexpected argument "${extra[0]}"`;
    io.stderr.write(`earshot: ${problem}\nTry 'earshot --help'.\n`);
    return ExitCode.Usage;
  }

  const interimLine = new InterimLine(io.stderr);
  const onTranscript = (message: TranscriptMessage) => {
    if (values.json) {
      if (message.isFinal || values.interim) io.stdout.write(`${JSON.stringify(message)}\n`);
      return;
    }
    if (message.isFinal) {
      interimLine.clear();
      io.stdout.write(`${message.text}\n`);
    } else if (values.interim) {
      interimLine.show(message.text);
    }
  };

  try {
    await transcribeFile(values.url ?? DEFAULT_URL, file, {
      token: values.token,
      WebSocket: io.WebSocket,
      pace: values.fast ? 'fast' : 'realtime',
      signal: io.signal,
      start: {
        language: values.language ?? 'en-US',
        interimResults: Boolean(values.interim),
      },
      onTranscript,
    });
    interimLine.clear();
    return ExitCode.Ok;
  } catch (error) {
    interimLine.clear();
    if (io.signal?.aborted) {
      io.stderr.write('earshot: interrupted\n');
      return ExitCode.Aborted;
    }
    io.stderr.write(`earshot: ${describeError(error)}\n`);
    return ExitCode.Failed;
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      language: { type: 'string' },
      fast: { type: 'boolean' },
      interim: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
}

/** One line, whatever was thrown: the message and, for an Earshot error, its stable code. */
function describeError(error: unknown): string {
  if (EarshotError.isInstance(error)) return `${firstLine(error.message)} (${error.code})`;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    // fs errors (ENOENT…) carry the path in their message already.
    return typeof code === 'string'
      ? `${firstLine(error.message)} (${code})`
      : firstLine(error.message);
  }
  return firstLine(String(error));
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}

/** The interim transcript, rewritten in place on one line with `\r`. */
class InterimLine {
  #width = 0;
  constructor(private readonly out: { write(text: string): unknown }) {}

  show(text: string): void {
    // Pad with spaces over a longer previous interim instead of relying on terminal escapes.
    const pad = ' '.repeat(Math.max(0, this.#width - text.length));
    this.out.write(`\r${text}${pad}`);
    this.#width = text.length;
  }

  clear(): void {
    if (this.#width === 0) return;
    this.out.write(`\r${' '.repeat(this.#width)}\r`);
    this.#width = 0;
  }
}
