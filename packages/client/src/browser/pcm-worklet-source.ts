/**
 * The AudioWorklet processor that turns microphone audio into PCM16 frames, as source text:
 * the capture loads it from a Blob URL, so nobody has to host a file.
 *
 * It runs at the AudioContext's own rate (the device's: Firefox refuses to connect a
 * microphone to a context of another rate) and resamples inside the worklet to the rate
 * asked for, with a windowed-sinc interpolator whose cutoff sits below the lower Nyquist
 * frequency (so 48 kHz → 16 kHz does not alias). It posts `{ frame, level }`: a PCM16 frame
 * (an ArrayBuffer, transferred) of `frameSamples` samples and its RMS level (0–1).
 */
export const PCM_WORKLET_SOURCE = `
const HALF_TAPS = 16;
class EarshotPcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate, frameSamples } = options.processorOptions;
    this.step = sampleRate / targetRate;
    // Cutoff as a fraction of the input Nyquist: below the output's, with a margin.
    this.cutoff = Math.min(1, targetRate / sampleRate) * 0.92;
    this.history = new Float32Array(0);
    this.position = HALF_TAPS;
    this.frameSamples = frameSamples;
    this.frame = new Int16Array(frameSamples);
    this.filled = 0;
    this.energy = 0;
  }
  kernel(x) {
    if (x === 0) return this.cutoff;
    const w = 0.42 + 0.5 * Math.cos(Math.PI * x / HALF_TAPS) + 0.08 * Math.cos(2 * Math.PI * x / HALF_TAPS);
    const a = Math.PI * x * this.cutoff;
    return this.cutoff * Math.sin(a) / a * w;
  }
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    const joined = new Float32Array(this.history.length + channel.length);
    joined.set(this.history);
    joined.set(channel, this.history.length);
    let t = this.position;
    while (t + HALF_TAPS < joined.length) {
      const base = Math.floor(t);
      let sum = 0;
      for (let k = base - HALF_TAPS + 1; k <= base + HALF_TAPS; k++) sum += joined[k] * this.kernel(t - k);
      this.emit(sum);
      t += this.step;
    }
    const keep = Math.floor(t) - HALF_TAPS;
    this.history = joined.slice(keep);
    this.position = t - keep;
    return true;
  }
  emit(sample) {
    const s = Math.max(-1, Math.min(1, sample));
    this.energy += s * s;
    this.frame[this.filled++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    if (this.filled < this.frameSamples) return;
    const level = Math.sqrt(this.energy / this.frameSamples);
    const frame = this.frame.buffer;
    // Transferred, not copied: the array is detached after this, so a fresh one follows.
    this.port.postMessage({ frame, level }, [frame]);
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.energy = 0;
  }
}
registerProcessor('earshot-pcm-capture', EarshotPcmCapture);
`;
