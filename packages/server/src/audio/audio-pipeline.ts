import { type AudioFormat, bytesPerSecond, EarshotError, readWavHeader } from '@earshot/protocol';
import { OpusContainerClock } from '@earshot/providers/containers';
import type { AudioSink, AudioStage } from './audio-stage.js';
import { describePlan, type PipelinePlan, planPipeline } from './pipeline-plan.js';
import { createStepStage, type StageOptions } from './pipeline-stages.js';

/** Options of {@link AudioPipeline}. */
export interface AudioPipelineOptions extends StageOptions {}

// A WAV header bigger than this is not a header anyone sends; refusing it bounds memory.
const MAX_WAV_HEADER_BYTES = 64 * 1024;

type Head = 'sniffing' | 'flowing';

/**
 * Turns a session's input audio into what its provider accepts, along the cheapest plan
 * (pass-through first). Raw input is sniffed for a WAV header in its first bytes, so a client
 * that sends a WAV file as its first chunk is understood whatever it declared; the header's
 * format wins and the plan is made again for it.
 *
 * Output goes to `sink.data` in the plan's output format; failures to `sink.error`.
 */
export class AudioPipeline {
  private head: Head;
  private headBytes: Uint8Array[] = [];
  private headSize = 0;
  private stages: AudioStage[] = [];
  private currentPlan: PipelinePlan;
  private outputBytes = 0;
  private outputByteRate: number;
  /** A container passed through untouched: timed by its Opus packets, as nothing decodes it. */
  private containerClock: OpusContainerClock | undefined;
  private destroyed = false;
  private tornFrameReported = false;
  /** A WAV file sent as a stream is cut wherever the sender likes: no frame check then. */
  private fromWavFile = false;

  constructor(
    readonly declared: AudioFormat,
    accepted: readonly AudioFormat[],
    private readonly sink: AudioSink,
    private readonly options: AudioPipelineOptions,
  ) {
    const raw =
      declared.encoding === 'pcm16' ||
      declared.encoding === 'mulaw' ||
      declared.encoding === 'alaw';
    this.head = raw || declared.encoding === 'wav' ? 'sniffing' : 'flowing';
    // A declared `wav` is planned as PCM16 at its declared rate until the header says more.
    this.currentPlan = planPipeline(
      declared.encoding === 'wav' ? { ...declared, encoding: 'pcm16' } : declared,
      accepted,
    );
    this.outputByteRate = bytesPerSecond(this.currentPlan.output) ?? 0;
    const { output } = this.currentPlan;
    if (output.encoding === 'webm-opus' || output.encoding === 'ogg-opus') {
      // Passed through, so no stage reads it: this clock does, and reports what is not Opus.
      this.containerClock = new OpusContainerClock(output.encoding, {
        invalid: (message, fatal) => {
          const error = new EarshotError('invalid_audio', message, { fatal });
          if (fatal) this.fail(error);
          else this.sink.error(error);
        },
      });
    }
    if (this.head === 'flowing') this.build();
  }

  /** The plan in force: how the input becomes the provider's format. */
  get plan(): PipelinePlan {
    return this.currentPlan;
  }

  /** How the input becomes the provider's format, for `ready` and logs. */
  describe(): string {
    // A declared WAV stream is planned again once its header has arrived.
    if (this.declared.encoding === 'wav' && this.head === 'sniffing')
      return 'as its WAV header declares';
    return describePlan(this.currentPlan);
  }

  /** Seconds of audio delivered to the provider: the session's audio clock. */
  get outputSeconds(): number {
    if (this.containerClock) return this.containerClock.seconds;
    return this.outputByteRate > 0 ? this.outputBytes / this.outputByteRate : 0;
  }

  /** Feeds input bytes at any boundary. Never throws; failures go to the sink. */
  write(chunk: Uint8Array): void {
    if (this.destroyed || chunk.byteLength === 0) return;
    if (this.head === 'sniffing') {
      this.sniff(chunk);
      return;
    }
    this.checkWholeFrames(chunk);
    const first = this.stages[0];
    if (first) first.write(chunk);
    else this.deliver(chunk);
  }

  /** End of input: flushes every stage in order, then resolves. */
  async end(): Promise<void> {
    if (this.destroyed) return;
    if (this.head === 'sniffing' && this.headSize > 0) {
      if (this.declared.encoding === 'wav') {
        this.fail(
          new EarshotError('invalid_audio', 'the WAV stream ended inside its header', {
            fatal: true,
          }),
        );
        return;
      }
      // Fewer bytes than a header: they are audio of the declared format.
      this.startFlowing(this.currentPlan);
      this.release();
    }
    for (const stage of this.stages) await stage.end();
  }

  /** Stops at once and releases every stage (WASM memory, child processes). */
  destroy(): void {
    this.destroyed = true;
    for (const stage of this.stages) stage.destroy();
    this.stages = [];
    this.headBytes = [];
  }

  // Binary frames of raw audio should hold whole sample frames. One that does not is reported
  // (once: a client that splits at odd bytes does it every time), and its bytes still go on,
  // since every stage carries a partial sample to the next chunk and the stream stays aligned.
  private checkWholeFrames(chunk: Uint8Array): void {
    const { input } = this.currentPlan;
    if (this.tornFrameReported || this.fromWavFile || input.encoding !== 'pcm16') return;
    const frame = 2 * input.channels;
    if (chunk.byteLength % frame === 0) return;
    this.tornFrameReported = true;
    this.sink.error(
      new EarshotError(
        'invalid_audio',
        `a binary frame of ${chunk.byteLength} bytes splits a ${frame}-byte PCM16 sample frame; send whole frames`,
      ),
    );
  }

  private sniff(chunk: Uint8Array): void {
    this.headBytes.push(chunk);
    this.headSize += chunk.byteLength;
    const head = this.headBytes.length === 1 ? chunk : Buffer.concat(this.headBytes, this.headSize);
    if (head.byteLength < 4 && this.declared.encoding !== 'wav') return;
    const looksLikeWav =
      head.byteLength >= 4 && String.fromCharCode(...head.subarray(0, 4)) === 'RIFF';
    if (!looksLikeWav && this.declared.encoding !== 'wav') {
      this.startFlowing(this.currentPlan);
      this.release();
      return;
    }
    let header: ReturnType<typeof readWavHeader>;
    try {
      header = readWavHeader(head);
    } catch (error) {
      this.fail(EarshotError.from(error, 'invalid_audio').asFatal());
      return;
    }
    if (!header.complete) {
      if (this.headSize > MAX_WAV_HEADER_BYTES) {
        this.fail(
          new EarshotError(
            'invalid_audio',
            `no WAV data chunk in the first ${MAX_WAV_HEADER_BYTES} bytes`,
            { fatal: true },
          ),
        );
      }
      return;
    }
    let plan: PipelinePlan;
    try {
      // The provider was opened for the first plan's output: the header's format must reach it.
      plan = planPipeline(header.format, [this.currentPlan.output]);
    } catch (error) {
      this.fail(EarshotError.from(error, 'unsupported_audio_format').asFatal());
      return;
    }
    this.fromWavFile = true;
    this.startFlowing(plan);
    // Only the samples go on; the header is consumed here.
    this.headBytes = [head.subarray(header.dataOffset)];
    this.release();
  }

  private startFlowing(plan: PipelinePlan): void {
    this.head = 'flowing';
    this.currentPlan = plan;
    this.outputByteRate = bytesPerSecond(plan.output) ?? 0;
    this.build();
  }

  private release(): void {
    const held = this.headBytes;
    this.headBytes = [];
    this.headSize = 0;
    for (const bytes of held) this.write(bytes);
  }

  private build(): void {
    const steps = this.currentPlan.steps;
    const stages: AudioStage[] = [];
    let format = this.currentPlan.input;
    // Built back to front: each stage delivers into the one after it, the last to the sink.
    const sinks: AudioSink[] = [];
    for (let i = 0; i < steps.length; i++) {
      const index = i;
      sinks.push({
        data: (bytes) => {
          const next = stages[index + 1];
          if (next) next.write(bytes);
          else this.deliver(bytes);
        },
        error: (error) => (error.fatal ? this.fail(error) : this.sink.error(error)),
      });
    }
    for (let i = 0; i < steps.length; i++) {
      const stage = createStepStage(steps[i]!, format, sinks[i]!, this.options);
      stages.push(stage);
      format = stage.output;
    }
    this.stages = stages;
  }

  private deliver(bytes: Uint8Array): void {
    this.outputBytes += bytes.byteLength;
    this.containerClock?.write(bytes);
    if (this.destroyed) return; // the clock found bytes that are not Opus
    this.sink.data(bytes);
  }

  private fail(error: EarshotError): void {
    if (this.destroyed) return;
    // Destroyed first: the sink may end the session, which ends this pipeline again.
    this.destroy();
    this.sink.error(error);
  }
}
