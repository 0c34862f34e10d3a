import type {
  CommandMessage,
  EarshotError,
  ReadyMessage,
  TranscriptMessage,
} from '@earshot/protocol';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AudioSource } from '../browser/audio-source.js';
import { createOpusMicrophone } from '../browser/opus-microphone.js';
import { createPcmMicrophone } from '../browser/pcm-microphone.js';
import { type MicrophoneStream, streamMicrophone } from '../browser/stream-microphone.js';
import { EarshotClient, type EarshotClientOptions, type StartOptions } from '../earshot-client.js';

/** Options of {@link useTranscription}. */
export interface UseTranscriptionOptions extends Omit<EarshotClientOptions, 'url'> {
  /** The server's `/v1/listen` endpoint. */
  readonly url: string;
  /**
   * How to capture: `'pcm'` (AudioWorklet PCM16 16 kHz, the default), `'opus'`
   * (MediaRecorder WebM/Opus), or a function making any {@link AudioSource}.
   */
  readonly capture?: 'pcm' | 'opus' | (() => AudioSource);
  /** What `start` sends besides the audio format: language, keywords, metadata… */
  readonly startOptions?: Omit<StartOptions, 'audio' | 'signal'>;
}

/** Where a {@link useTranscription} session is, for a mic button. */
export type TranscriptionStatus =
  | 'idle'
  | 'connecting'
  | 'recording'
  | 'reconnecting'
  | 'stopping'
  | 'error';

/** What {@link useTranscription} returns. */
export interface Transcription {
  readonly status: TranscriptionStatus;
  /** The finals so far, in order. */
  readonly finals: readonly TranscriptMessage[];
  /** The finals' text, joined with spaces. */
  readonly text: string;
  /** The current interim text ('' once its final arrived). */
  readonly interim: string;
  /** Voice commands detected so far. */
  readonly commands: readonly CommandMessage[];
  /** The last error (fatal or not), until the next `start`. */
  readonly error: EarshotError | undefined;
  /** The microphone's input level, RMS 0–1, refreshed ten times a second while recording. */
  readonly level: number;
  /** The session's `ready`, once recording. */
  readonly ready: ReadyMessage | undefined;
  /** Opens the microphone and starts a session. */
  start(): Promise<void>;
  /** Stops the microphone and the session; resolves after the last final. */
  stop(): Promise<void>;
  /** Forgets the finals, interim, commands and error. */
  reset(): void;
}

/**
 * Live transcription from the microphone, for React: the state a mic button needs and
 * `start`/`stop`. One client per hook; the session is stopped when the component unmounts.
 * React is an optional peer dependency of `@earshot/client`.
 *
 * @example
 * ```tsx
 * function MicButton() {
 *   const t = useTranscription({ url: 'wss://example.com/v1/listen', token: fetchToken });
 *   return (
 *     <>
 *       <button onClick={t.status === 'recording' ? t.stop : t.start}>{t.status}</button>
 *       <p>{t.text} <i>{t.interim}</i></p>
 *       {t.error && <p role="alert">{t.error.message}</p>}
 *     </>
 *   );
 * }
 * ```
 */
export function useTranscription(options: UseTranscriptionOptions): Transcription {
  const [status, setStatus] = useState<TranscriptionStatus>('idle');
  const [finals, setFinals] = useState<readonly TranscriptMessage[]>([]);
  const [interim, setInterim] = useState('');
  const [commands, setCommands] = useState<readonly CommandMessage[]>([]);
  const [error, setError] = useState<EarshotError | undefined>();
  const [level, setLevel] = useState(0);
  const [ready, setReady] = useState<ReadyMessage | undefined>();
  const optionsRef = useRef(options);
  optionsRef.current = options;
  const clientRef = useRef<EarshotClient | undefined>(undefined);
  const micRef = useRef<MicrophoneStream | undefined>(undefined);

  const client = useCallback((): EarshotClient => {
    if (clientRef.current) return clientRef.current;
    const { capture: _capture, startOptions: _start, ...clientOptions } = optionsRef.current;
    const c = new EarshotClient(clientOptions);
    c.on('transcript', (t) => {
      if (t.isFinal) {
        setFinals((previous) => [...previous, t]);
        setInterim('');
      } else {
        setInterim(t.text);
      }
    });
    c.on('command', (m) => setCommands((previous) => [...previous, m]));
    c.on('error', (e) => {
      setError(e);
      if (e.fatal) setStatus('error');
    });
    c.on('state', (s) => {
      if (s === 'reconnecting') setStatus('reconnecting');
      else if (s === 'streaming') setStatus((now) => (now === 'reconnecting' ? 'recording' : now));
    });
    c.on('closed', () => setStatus((now) => (now === 'error' ? now : 'idle')));
    clientRef.current = c;
    return c;
  }, []);

  const start = useCallback(async () => {
    if (micRef.current) return;
    setError(undefined);
    setStatus('connecting');
    const { capture = 'pcm', startOptions } = optionsRef.current;
    const source =
      capture === 'pcm'
        ? createPcmMicrophone()
        : capture === 'opus'
          ? createOpusMicrophone()
          : capture();
    try {
      const mic = await streamMicrophone(client(), source, startOptions);
      micRef.current = mic;
      setReady(mic.ready);
      setStatus('recording');
    } catch (e) {
      setError(e as EarshotError);
      setStatus('error');
    }
  }, [client]);

  const stop = useCallback(async () => {
    const mic = micRef.current;
    micRef.current = undefined;
    if (!mic) return;
    setStatus('stopping');
    try {
      await mic.stop();
      setStatus('idle');
    } catch (e) {
      setError(e as EarshotError);
      setStatus('error');
    }
    setLevel(0);
  }, []);

  const reset = useCallback(() => {
    setFinals([]);
    setInterim('');
    setCommands([]);
    setError(undefined);
  }, []);

  // The meter: the source's level, polled while recording (audio callbacks are too frequent
  // to set state from).
  useEffect(() => {
    if (status !== 'recording') return;
    const timer = setInterval(() => setLevel(micRef.current?.source.level ?? 0), 100);
    return () => clearInterval(timer);
  }, [status]);

  // Unmounting ends the session and releases the microphone.
  useEffect(
    () => () => {
      const mic = micRef.current;
      micRef.current = undefined;
      void mic?.stop().catch(() => undefined);
      void clientRef.current?.close();
    },
    [],
  );

  return {
    status,
    finals,
    text: finals.map((f) => f.text).join(' '),
    interim,
    commands,
    error,
    level,
    ready,
    start,
    stop,
    reset,
  };
}
