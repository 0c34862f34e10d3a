import { type AudioFormat, EarshotError } from '@earshot/protocol';
import {
  type AudioSource,
  type MicrophoneOptions,
  openMicrophone,
  watchTrackEnd,
} from './audio-source.js';

/** Options of {@link createOpusMicrophone}. */
export interface OpusMicrophoneOptions extends MicrophoneOptions {
  /** How often MediaRecorder hands over a chunk, ms. Default 100. */
  readonly timesliceMs?: number;
  /** Opus bit rate. Default 32000: plenty for speech. */
  readonly bitsPerSecond?: number;
}

// What browsers record Opus into: WebM (Chromium, Firefox), Ogg (Firefox, Safari 18.4+).
const CONTAINERS = [
  { mimeType: 'audio/webm;codecs=opus', encoding: 'webm-opus' },
  { mimeType: 'audio/ogg;codecs=opus', encoding: 'ogg-opus' },
] as const;

/**
 * The microphone as Opus in WebM (or Ogg) from `MediaRecorder`: about a tenth of PCM's
 * bandwidth, for slow links. The server decodes it (or passes it through to a provider that
 * reads containers). A level meter is computed from the raw input alongside.
 *
 * @example
 * ```ts
 * const mic = createOpusMicrophone();
 * await mic.start((chunk) => client.sendAudio(chunk), (e) => show(e.message));
 * ```
 */
export function createOpusMicrophone(options: OpusMicrophoneOptions = {}): AudioSource {
  const container =
    typeof MediaRecorder === 'undefined'
      ? undefined
      : CONTAINERS.find((c) => MediaRecorder.isTypeSupported(c.mimeType));
  let format: AudioFormat = {
    encoding: container?.encoding ?? 'webm-opus',
    sampleRate: 48000,
    channels: 1,
  };
  let level = 0;
  let release: (() => Promise<void>) | undefined;

  return {
    get format() {
      return format;
    },
    get level() {
      return level;
    },
    async start(onChunk, onError) {
      if (release) return;
      if (!container) {
        throw new EarshotError(
          'microphone_unavailable',
          'this browser cannot record Opus (MediaRecorder with WebM or Ogg); use createPcmMicrophone',
          { fatal: true },
        );
      }
      const stream = await openMicrophone(options);
      const settings = stream.getAudioTracks()[0]?.getSettings();
      format = {
        encoding: container.encoding,
        sampleRate: 48000,
        channels: settings?.channelCount === 2 ? 2 : 1,
      };
      const recorder = new MediaRecorder(stream, {
        mimeType: container.mimeType,
        audioBitsPerSecond: options.bitsPerSecond ?? 32000,
      });
      // The level meter: an analyser on the same stream, read when each chunk arrives.
      const context = new AudioContext();
      const analyser = context.createAnalyser();
      analyser.fftSize = 2048;
      const source = context.createMediaStreamSource(stream);
      source.connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      // Blobs are read asynchronously: one chain keeps the chunks in recording order.
      let delivered = Promise.resolve();
      recorder.ondataavailable = (event) => {
        if (event.data.size === 0) return;
        analyser.getFloatTimeDomainData(samples);
        let energy = 0;
        for (const s of samples) energy += s * s;
        level = Math.sqrt(energy / samples.length);
        const blob = event.data;
        delivered = delivered.then(async () => onChunk(new Uint8Array(await blob.arrayBuffer())));
      };
      recorder.onerror = () =>
        onError(new EarshotError('microphone_lost', 'the recorder stopped', { fatal: true }));
      watchTrackEnd(stream, onError);
      recorder.start(options.timesliceMs ?? 100);
      release = async () => {
        await new Promise<void>((resolve) => {
          if (recorder.state === 'inactive') return resolve();
          // The last chunk comes before `stop`: it is sent like the others.
          recorder.addEventListener('stop', () => resolve(), { once: true });
          recorder.stop();
        });
        await delivered;
        source.disconnect();
        for (const track of stream.getTracks()) track.stop();
        await context.close();
      };
    },
    async stop() {
      const done = release;
      release = undefined;
      level = 0;
      await done?.();
    },
  };
}
