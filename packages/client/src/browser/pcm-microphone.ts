import type { AudioFormat, EarshotError } from '@earshot/protocol';
import {
  type AudioSource,
  type MicrophoneOptions,
  openMicrophone,
  watchTrackEnd,
} from './audio-source.js';
import { PCM_WORKLET_SOURCE } from './pcm-worklet-source.js';

/** Options of {@link createPcmMicrophone}. */
export interface PcmMicrophoneOptions extends MicrophoneOptions {
  /** The PCM16 rate sent. Default 16000. */
  readonly sampleRate?: number;
  /** Length of each chunk, ms. Default 100. */
  readonly frameMs?: number;
}

/**
 * The microphone as PCM16 mono at `sampleRate` (16 kHz by default) in `frameMs` chunks,
 * through an AudioWorklet loaded from an inline Blob. The AudioContext runs at the device's
 * own rate and the worklet resamples (anti-aliased), which works in every browser, Firefox
 * included. The best choice for accuracy and latency.
 *
 * @example
 * ```ts
 * const mic = createPcmMicrophone();
 * await mic.start((chunk) => client.sendAudio(chunk), (e) => show(e.message));
 * ```
 */
export function createPcmMicrophone(options: PcmMicrophoneOptions = {}): AudioSource {
  const sampleRate = options.sampleRate ?? 16000;
  const frameSamples = Math.round((sampleRate * (options.frameMs ?? 100)) / 1000);
  const format: AudioFormat = { encoding: 'pcm16', sampleRate, channels: 1 };
  let level = 0;
  let release: (() => Promise<void>) | undefined;

  return {
    format,
    get level() {
      return level;
    },
    async start(onChunk, onError: (error: EarshotError) => void) {
      if (release) return;
      const stream = await openMicrophone(options);
      const context = new AudioContext();
      try {
        const url = URL.createObjectURL(
          new Blob([PCM_WORKLET_SOURCE], { type: 'application/javascript' }),
        );
        try {
          await context.audioWorklet.addModule(url);
        } finally {
          URL.revokeObjectURL(url);
        }
        const source = context.createMediaStreamSource(stream);
        const node = new AudioWorkletNode(context, 'earshot-pcm-capture', {
          processorOptions: { targetRate: sampleRate, frameSamples },
        });
        node.port.onmessage = (event: MessageEvent<{ frame: ArrayBuffer; level: number }>) => {
          level = event.data.level;
          onChunk(new Uint8Array(event.data.frame));
        };
        source.connect(node);
        // Rendering is pulled from the destination: a node not connected to it may not run.
        // The processor writes no output, so nothing is heard.
        node.connect(context.destination);
        // A context made after an await may start suspended (autoplay policy).
        if (context.state === 'suspended') await context.resume();
        watchTrackEnd(stream, onError);
        release = async () => {
          node.port.onmessage = null;
          source.disconnect();
          node.disconnect();
          for (const track of stream.getTracks()) track.stop();
          await context.close();
        };
      } catch (error) {
        for (const track of stream.getTracks()) track.stop();
        await context.close();
        throw error;
      }
    },
    async stop() {
      const done = release;
      release = undefined;
      level = 0;
      await done?.();
    },
  };
}
