import {
  type AudioEncoding,
  type AudioFormat,
  describeAudioFormat,
  EarshotError,
  sameAudioFormat,
} from '@earshot/protocol';

/** One conversion step, in the order they run. */
export type PipelineStep =
  | { readonly kind: 'decode-g711'; readonly law: 'mulaw' | 'alaw' }
  | { readonly kind: 'decode-opus'; readonly container: 'webm' | 'ogg'; readonly rate: number }
  | { readonly kind: 'downmix' }
  | { readonly kind: 'resample'; readonly from: number; readonly to: number }
  | { readonly kind: 'encode-g711'; readonly law: 'mulaw' | 'alaw' };

/** How audio of one format becomes audio a provider accepts. */
export interface PipelinePlan {
  readonly input: AudioFormat;
  /** One of the provider's accepted formats. */
  readonly output: AudioFormat;
  /** Empty when the audio passes through untouched. */
  readonly steps: readonly PipelineStep[];
  /** Relative CPU cost of the steps (0 for pass-through), to compare plans. */
  readonly cost: number;
}

// Relative costs per second of audio, from the measurements in bench/: a table lookup is
// nearly free, resampling costs about ten lookups, Opus decoding about twenty.
const COST: Readonly<Record<PipelineStep['kind'], number>> = {
  'decode-g711': 1,
  'encode-g711': 1,
  downmix: 1,
  resample: 10,
  'decode-opus': 20,
};

/** The rate Opus codes at internally, and what its decoders deliver unless told otherwise. */
export const OPUS_DECODE_RATE = 48000;

// libopus decodes straight to these rates, more cheaply than decoding at 48 kHz and
// resampling after it.
const OPUS_NATIVE_RATES: ReadonlySet<number> = new Set([8000, 12000, 16000, 24000, 48000]);

const RAW_ENCODINGS: ReadonlySet<AudioEncoding> = new Set(['pcm16', 'mulaw', 'alaw']);

/**
 * The cheapest way from `input` to one of `accepted`: pass-through when the provider takes
 * the input as it is, else the conversion chain with the lowest cost (decode, downmix,
 * resample, encode). Container input decodes to PCM first; a provider that only accepts a
 * container format cannot be fed anything but that container.
 *
 * `wav` input is planned for the format its header declares, so callers plan again once the
 * header has been read.
 */
export function planPipeline(input: AudioFormat, accepted: readonly AudioFormat[]): PipelinePlan {
  const direct = accepted.find((format) => sameAudioFormat(format, input));
  if (direct) return { input, output: direct, steps: [], cost: 0 };

  let best: PipelinePlan | undefined;
  for (const output of accepted) {
    const steps = chain(input, output);
    if (!steps) continue;
    const cost = steps.reduce((sum, step) => sum + COST[step.kind], 0);
    if (!best || cost < best.cost) best = { input, output, steps, cost };
  }
  if (best) return best;
  throw new EarshotError(
    'unsupported_audio_format',
    `audio ${describeAudioFormat(input)} cannot be converted to what the provider accepts (${accepted
      .map(describeAudioFormat)
      .join(', ')})`,
  );
}

function chain(input: AudioFormat, output: AudioFormat): PipelineStep[] | undefined {
  if (!RAW_ENCODINGS.has(output.encoding)) return undefined;
  const steps: PipelineStep[] = [];
  let rate = input.sampleRate;
  switch (input.encoding) {
    case 'pcm16':
      break;
    case 'mulaw':
    case 'alaw':
      steps.push({ kind: 'decode-g711', law: input.encoding });
      break;
    case 'webm-opus':
    case 'ogg-opus':
      rate = OPUS_NATIVE_RATES.has(output.sampleRate) ? output.sampleRate : OPUS_DECODE_RATE;
      steps.push({
        kind: 'decode-opus',
        container: input.encoding === 'webm-opus' ? 'webm' : 'ogg',
        rate,
      });
      break;
    default:
      return undefined; // wav: planned from its header
  }
  // Opus decoders already mix down to mono.
  const channels = input.encoding.endsWith('opus') ? 1 : input.channels;
  if (channels > output.channels) steps.push({ kind: 'downmix' });
  else if (channels < output.channels) return undefined;
  if (rate !== output.sampleRate)
    steps.push({ kind: 'resample', from: rate, to: output.sampleRate });
  if (output.encoding === 'mulaw' || output.encoding === 'alaw') {
    steps.push({ kind: 'encode-g711', law: output.encoding });
  }
  return steps;
}

/** A short human form of a plan for logs and `ready`: `mulaw→pcm16, resample 8000→16000`. */
export function describePlan(plan: PipelinePlan): string {
  if (plan.steps.length === 0) return 'pass-through';
  return plan.steps.map(describeStep).join(', ');
}

function describeStep(step: PipelineStep): string {
  switch (step.kind) {
    case 'decode-g711':
      return `${step.law}→pcm16`;
    case 'decode-opus':
      return `${step.container}/opus→pcm16 ${step.rate}`;
    case 'downmix':
      return 'stereo→mono';
    case 'resample':
      return `resample ${step.from}→${step.to}`;
    case 'encode-g711':
      return `pcm16→${step.law}`;
  }
}
