import type { EmulatorFaults } from './faults.js';

/** What an emulator recorded about one connection (or gRPC call), for assertions. */
export interface EmulatorConnection {
  /** 0 for the first connection the emulator accepted. */
  readonly index: number;
  /** Request headers, lower-cased. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The request URL's query parameters (repeated keys keep every value). */
  readonly query: URLSearchParams;
  /** The vendor config the client sent (OpenAI `session.update`, Google `streamingConfig`). */
  config: unknown;
  /** Bytes of audio received. */
  audioBytes: number;
  /** Text (control) messages received, parsed. */
  readonly controlMessages: unknown[];
  /** How it ended: the close code (or gRPC status) and reason, once it has. */
  closed?: { code: number; reason: string };
}

/** A vendor emulator running on loopback, as tests drive it. */
export interface Emulator {
  /** The vendor's name (`deepgram`, `openai`, `openai-batch`, `google`). */
  readonly vendor: string;
  /**
   * What to point the vendor SDK at: a base URL (`ws://127.0.0.1:PORT`,
   * `https://127.0.0.1:PORT/v1`) or, for gRPC, `127.0.0.1:PORT`.
   */
  readonly endpoint: string;
  /** The key the emulator accepts; any other is refused as the vendor refuses a bad key. */
  readonly apiKey: string;
  /** The PEM certificate a TLS emulator serves, for the client's `ca`. */
  readonly ca?: string;
  /** Every connection so far, in order. */
  readonly connections: readonly EmulatorConnection[];
  /** Faults to inject; may be changed at any time. */
  faults: EmulatorFaults;
  /** Destroys every live connection at once, no close frame: a network drop. */
  dropAll(): void;
  /** Stops the emulator and everything it holds. */
  close(): Promise<void>;
}

/** Options every emulator takes. */
export interface EmulatorOptions {
  /** The key to accept. Defaults to `test-key`. */
  readonly apiKey?: string;
  /** Faults from the start. */
  readonly faults?: EmulatorFaults;
}

/** The default key emulators accept. */
export const EMULATOR_API_KEY = 'test-key';
