import type { AudioFormat } from '@earshot/protocol';
import { describe, expect, it } from 'vitest';
import { describePlan, planPipeline } from './pipeline-plan.js';

const pcm = (sampleRate: number, channels = 1): AudioFormat => ({
  encoding: 'pcm16',
  sampleRate,
  channels,
});
const LOCAL = [pcm(16000)];

describe('planPipeline', () => {
  it('passes audio through untouched when the provider takes it as it is', () => {
    const plan = planPipeline(pcm(16000), LOCAL);
    expect(plan.steps).toEqual([]);
    expect(describePlan(plan)).toBe('pass-through');
  });

  it('passes μ-law through to a provider that takes μ-law, rather than decoding it', () => {
    const mulaw: AudioFormat = { encoding: 'mulaw', sampleRate: 8000, channels: 1 };
    expect(planPipeline(mulaw, [pcm(16000), mulaw]).steps).toEqual([]);
  });

  it('decodes μ-law and resamples for a PCM16 16 kHz provider', () => {
    const plan = planPipeline({ encoding: 'mulaw', sampleRate: 8000, channels: 1 }, LOCAL);
    expect(describePlan(plan)).toBe('mulaw→pcm16, resample 8000→16000');
    expect(plan.output).toEqual(pcm(16000));
  });

  it('mixes stereo down before resampling, so the resampler does half the work', () => {
    expect(describePlan(planPipeline(pcm(48000, 2), LOCAL))).toBe(
      'stereo→mono, resample 48000→16000',
    );
  });

  it('decodes WebM and Ogg Opus straight to the rate the provider takes when libopus can', () => {
    expect(
      describePlan(planPipeline({ encoding: 'webm-opus', sampleRate: 48000, channels: 1 }, LOCAL)),
    ).toBe('webm/opus→pcm16 16000');
    expect(
      describePlan(
        planPipeline({ encoding: 'ogg-opus', sampleRate: 48000, channels: 2 }, [pcm(48000)]),
      ),
    ).toBe('ogg/opus→pcm16 48000');
    expect(
      describePlan(
        planPipeline({ encoding: 'webm-opus', sampleRate: 48000, channels: 1 }, [pcm(44100)]),
      ),
    ).toBe('webm/opus→pcm16 48000, resample 48000→44100');
  });

  it('picks the cheapest of several accepted formats', () => {
    const plan = planPipeline(pcm(24000), [
      pcm(16000),
      pcm(24000, 1),
      { encoding: 'mulaw', sampleRate: 8000, channels: 1 },
    ]);
    expect(plan.steps).toEqual([]);
    const phone = planPipeline({ encoding: 'alaw', sampleRate: 8000, channels: 1 }, [
      pcm(16000),
      { encoding: 'mulaw', sampleRate: 8000, channels: 1 },
    ]);
    expect(describePlan(phone)).toBe('alaw→pcm16, pcm16→mulaw');
  });

  it('refuses with unsupported_audio_format when no chain reaches an accepted format', () => {
    expect(() =>
      planPipeline(pcm(16000), [{ encoding: 'webm-opus', sampleRate: 48000, channels: 1 }]),
    ).toThrow(expect.objectContaining({ code: 'unsupported_audio_format' }));
  });
});
