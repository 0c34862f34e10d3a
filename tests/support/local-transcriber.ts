import type { SttProvider, SttStream } from '@earshot/providers';
import {
  createResampler,
  decodeAlaw,
  decodeMulaw,
  downmixStereo,
  Pcm16Framer,
  pcm16ToBytes,
} from '@earshot/server/audio';
import {
  bytesPerSecond,
  type EmulatorAudioFormat,
  type TranscribedUtterance,
  type Transcriber,
  type TranscriberEvents,
  type TranscriberSession,
} from '@earshot/testing';
import { EventEmitter } from 'eventemitter3';

/**
 * A {@link Transcriber} that really listens: whatever raw audio a vendor emulator receives is
 * decoded, resampled to 16 kHz and recognised by the local engine, so a test through a cloud
 * provider's SDK checks words recognised from the audio it sent.
 */
export function localTranscriber(engine: SttProvider): Transcriber {
  return { open: (format) => new LocalTranscriberSession(engine, format) };
}

class LocalTranscriberSession
  extends EventEmitter<TranscriberEvents>
  implements TranscriberSession
{
  private bytes = 0;
  private readonly framer: Pcm16Framer;
  private readonly resampler;
  private readonly stream: Promise<SttStream>;
  private readonly indexes = new Map<string, number>();
  private closed = false;

  constructor(
    engine: SttProvider,
    private readonly format: EmulatorAudioFormat,
  ) {
    super();
    this.framer = new Pcm16Framer(format.channels === 2 ? 2 : 1);
    this.resampler = createResampler(format.sampleRate, 16000);
    this.stream = engine
      .open({
        audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
        language: 'en-US',
        interimResults: true,
        keywords: [],
        diarize: false,
      })
      .then((stream) => {
        stream.on('transcript', (t) => {
          if (this.closed) return;
          let index = this.indexes.get(t.segmentId);
          if (index === undefined) {
            index = this.indexes.size + 1;
            this.indexes.set(t.segmentId, index);
          }
          const utterance: TranscribedUtterance = {
            index,
            isFinal: t.isFinal,
            text: t.text,
            words: t.words.map((w) => ({ ...w, confidence: w.confidence ?? 0.9 })),
            start: t.start,
            end: t.end,
            confidence: t.confidence ?? 0.9,
          };
          this.emit('utterance', utterance);
        });
        stream.on('speech_started', (e) => this.emit('speech', e.timestamp));
        return stream;
      });
  }

  get audioSeconds(): number {
    return this.bytes / bytesPerSecond(this.format);
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    this.bytes += bytes.byteLength;
    let samples =
      this.format.encoding === 'mulaw'
        ? decodeMulaw(bytes)
        : this.format.encoding === 'alaw'
          ? decodeAlaw(bytes)
          : this.framer.push(bytes);
    if (this.format.channels === 2) samples = downmixStereo(samples);
    const pcm = pcm16ToBytes(this.resampler.process(samples));
    void this.stream.then((s) => s.write(pcm));
  }

  finalize(): void {
    void this.stream.then((s) => s.finalize());
  }

  async end(): Promise<void> {
    const tail = pcm16ToBytes(this.resampler.flush());
    const stream = await this.stream;
    stream.write(tail);
    await stream.end();
  }

  close(): void {
    this.closed = true;
    void this.stream.then((s) => s.abort('emulator connection closed'));
    this.removeAllListeners();
  }
}
