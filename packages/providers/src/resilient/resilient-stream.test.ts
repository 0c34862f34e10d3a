import type { EarshotError } from '@earshot/protocol';
import { EventEmitter } from 'eventemitter3';
import { afterEach, describe, expect, it } from 'vitest';
import { providerFailure } from '../shared/provider-failure.js';
import type {
  ProviderCapabilities,
  ProviderTranscript,
  SttProvider,
  SttStream,
  SttStreamEvents,
  SttStreamOptions,
} from '../stt-provider.js';
import { createResilientProvider } from './resilient-provider.js';
import type { ResilientStream } from './resilient-stream.js';

// A test double of the provider contract that "recognises" words written into the audio
// itself: every 0.25 s block of PCM16 16 kHz carries its session block number as sample
// values, so a replayed block is recognised as the same word at the same time, and any lost
// or duplicated audio shows up as a missing or repeated word. An utterance is 4 blocks (one
// interim after 2, the final after 4).
const RATE = 16000;
const BLOCK = RATE / 4; // samples per word
const FORMAT = { encoding: 'pcm16', sampleRate: RATE, channels: 1 } as const;
const OPTIONS: SttStreamOptions = {
  audio: FORMAT,
  language: 'en-US',
  interimResults: true,
  keywords: [],
  diarize: false,
};

function block(n: number): Uint8Array {
  return new Uint8Array(new Int16Array(BLOCK).fill(n + 1).buffer);
}

class FakeStream extends EventEmitter<SttStreamEvents> implements SttStream {
  received = 0; // samples
  words: { word: string; start: number; end: number }[] = [];
  segment = 0;
  closed = false;
  keepAlives = 0;
  silent = false;
  /** At `end()`, this many progress interims 100 ms apart before the final (a backlog). */
  backlogSteps = 0;
  private runValue = 0;
  private runLength = 0;

  constructor(
    readonly id: number,
    withKeepAlive: boolean,
  ) {
    super();
    if (!withKeepAlive) this.keepAlive = undefined;
  }

  keepAlive?: () => void = () => {
    this.keepAlives++;
  };

  write(chunk: Uint8Array): void {
    if (this.closed) return;
    const samples = new Int16Array(
      chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength),
    );
    // A word is a run of BLOCK equal non-zero samples, wherever it falls.
    for (const value of samples) {
      this.received++;
      if (value !== this.runValue) {
        this.runValue = value;
        this.runLength = 0;
      }
      if (value === 0) continue;
      this.runLength++;
      if (this.runLength < BLOCK) continue;
      this.runLength = 0;
      this.runValue = 0;
      const end = this.received / RATE;
      this.words.push({ word: `w${value - 1}`, start: end - BLOCK / RATE, end });
      if (this.silent) continue;
      if (this.words.length === 2) this.emit('transcript', this.hypothesis(false));
      if (this.words.length === 4) this.flush();
    }
  }

  finalize(): void {
    this.flush();
  }

  async end(): Promise<void> {
    for (let step = 0; step < this.backlogSteps && !this.closed; step++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (this.words.length > 0) this.emit('transcript', this.hypothesis(false));
    }
    if (!this.silent) this.flush();
    this.close();
  }

  abort(): void {
    this.close();
  }

  drop(kind: 'dropped' | 'auth' = 'dropped'): void {
    this.emit('error', providerFailure(kind, `fake upstream ${kind}`));
    this.close();
  }

  private flush(): void {
    if (this.words.length === 0) return;
    this.emit('transcript', this.hypothesis(true));
    this.words = [];
    this.segment++;
  }

  private hypothesis(isFinal: boolean): ProviderTranscript {
    const words = this.words.map((w) => ({ ...w, confidence: 0.9 }));
    return {
      segmentId: `f${this.id}-${this.segment}`,
      isFinal,
      text: words.map((w) => w.word).join(' '),
      words,
      start: words[0]!.start,
      end: words[words.length - 1]!.end,
    };
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
    this.removeAllListeners();
  }
}

class FakeProvider implements SttProvider {
  readonly specificationVersion = 'v1';
  readonly capabilities: ProviderCapabilities;
  streams: FakeStream[] = [];
  /** Failures for the next opens, in order. */
  openFailures: EarshotError[] = [];

  constructor(
    readonly name: string,
    extra: Partial<ProviderCapabilities> = {},
    private readonly withKeepAlive = true,
  ) {
    this.capabilities = {
      inputFormats: [FORMAT],
      interimResults: true,
      wordTimings: true,
      diarization: false,
      keywordBoosting: false,
      languages: 'any',
      ...extra,
    };
  }

  async open(): Promise<SttStream> {
    const failure = this.openFailures.shift();
    if (failure) throw failure;
    const stream = new FakeStream(this.streams.length, this.withKeepAlive);
    this.streams.push(stream);
    return stream;
  }

  get live(): FakeStream | undefined {
    return this.streams.findLast((s) => !s.closed);
  }
}

interface Collected {
  finals: ProviderTranscript[];
  interims: ProviderTranscript[];
  errors: EarshotError[];
  closed: boolean;
}

function collect(stream: ResilientStream): Collected {
  const out: Collected = { finals: [], interims: [], errors: [], closed: false };
  stream.on('transcript', (t) => (t.isFinal ? out.finals : out.interims).push(t));
  stream.on('error', (e) => out.errors.push(e));
  stream.on('close', () => {
    out.closed = true;
  });
  return out;
}

const spokenWords = (finals: ProviderTranscript[]) => finals.flatMap((f) => f.text.split(' '));
const expectedWords = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`);
const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20, budget: 3 };
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let open: ResilientStream[] = [];
afterEach(() => {
  for (const s of open) s.abort('test over');
  open = [];
});

async function start(
  primary: SttProvider,
  extra: Parameters<typeof createResilientProvider>[1] = {},
) {
  const provider = createResilientProvider(primary, { retry: FAST_RETRY, ...extra });
  const stream = await provider.open(OPTIONS);
  open.push(stream);
  return { stream, out: collect(stream) };
}

describe('the resilient layer', () => {
  it('passes transcripts through with session-wide segment ids and one final each', async () => {
    const fake = new FakeProvider('fake');
    const { stream, out } = await start(fake);
    for (let n = 0; n < 8; n++) stream.write(block(n));
    await stream.end();
    expect(spokenWords(out.finals)).toEqual(expectedWords(8));
    expect(new Set(out.finals.map((f) => f.segmentId)).size).toBe(2);
    expect(out.interims.map((i) => i.segmentId)).toEqual(out.finals.map((f) => f.segmentId));
    expect(out.finals[1]!.start).toBeCloseTo(1, 5);
    expect(out.closed).toBe(true);
  });

  it('loses no word and repeats none when the upstream drops mid-utterance', async () => {
    const fake = new FakeProvider('fake');
    const { stream, out } = await start(fake);
    for (let n = 0; n < 6; n++) stream.write(block(n)); // one final, then half an utterance
    fake.live!.drop();
    for (let n = 6; n < 12; n++) stream.write(block(n)); // arrives while reconnecting
    await tick(50);
    await stream.end();
    expect(spokenWords(out.finals)).toEqual(expectedWords(12));
    expect(stream.stats.reconnects).toBe(1);
    expect(stream.stats.replayedSeconds).toBeGreaterThanOrEqual(0.5);
    // The utterance the drop cut keeps its id: its interim and its final share it.
    const cut = out.interims.find((i) => i.text.startsWith('w4'));
    expect(out.finals.some((f) => f.segmentId === cut?.segmentId)).toBe(true);
    expect(out.errors).toEqual([]);
  });

  it('closes its upstream while the client is away, and hears the cut utterance whole from a new one when audio comes again', async () => {
    const fake = new FakeProvider('fake');
    const { stream, out } = await start(fake);
    for (let n = 0; n < 6; n++) stream.write(block(n)); // one final, then half an utterance
    stream.suspend();
    expect(fake.streams[0]!.closed).toBe(true);
    expect(fake.streams.length).toBe(1); // nothing opens while no audio comes
    for (let n = 6; n < 12; n++) stream.write(block(n)); // the client is back
    await tick(50);
    expect(fake.streams.length).toBe(2);
    await stream.end();
    expect(spokenWords(out.finals)).toEqual(expectedWords(12));
    expect(stream.stats).toMatchObject({ suspensions: 1, reconnects: 0 });
    expect(out.errors).toEqual([]);
  });

  it('ending while suspended opens an upstream only for the audio not yet final', async () => {
    const fake = new FakeProvider('fake');
    const { stream, out } = await start(fake);
    for (let n = 0; n < 6; n++) stream.write(block(n));
    stream.suspend();
    await stream.end(); // the client never came back
    expect(spokenWords(out.finals)).toEqual(expectedWords(6));
    expect(fake.streams.length).toBe(2);

    const settled = new FakeProvider('fake');
    const quiet = await start(settled);
    for (let n = 0; n < 4; n++) quiet.stream.write(block(n)); // every word final
    await tick(10);
    quiet.stream.suspend();
    await quiet.stream.end();
    expect(settled.streams.length).toBe(1);
    expect(spokenWords(quiet.out.finals)).toEqual(expectedWords(4));
  });

  it('retries an unreachable provider with backoff, then fails over when its budget is spent', async () => {
    const primary = new FakeProvider('primary');
    const secondary = new FakeProvider('secondary');
    primary.openFailures = Array.from({ length: 10 }, () =>
      providerFailure('unreachable', 'connection refused'),
    );
    const { stream, out } = await start(primary, { fallbacks: [secondary] });
    expect(stream.stats.failovers).toBe(1);
    expect(stream.stats.provider).toBe('secondary');
    expect(primary.openFailures.length).toBe(10 - 1 - FAST_RETRY.budget);
    for (let n = 0; n < 4; n++) stream.write(block(n));
    await stream.end();
    expect(spokenWords(out.finals)).toEqual(expectedWords(4));
  });

  it('fails over mid-session without a gap when the primary goes down for good', async () => {
    const primary = new FakeProvider('primary');
    const secondary = new FakeProvider('secondary');
    const { stream, out } = await start(primary, { fallbacks: [secondary] });
    for (let n = 0; n < 6; n++) stream.write(block(n));
    primary.openFailures = Array.from({ length: 10 }, () =>
      providerFailure('unreachable', 'refused'),
    );
    primary.live!.drop();
    for (let n = 6; n < 10; n++) stream.write(block(n));
    await tick(150);
    for (let n = 10; n < 12; n++) stream.write(block(n));
    await stream.end();
    expect(spokenWords(out.finals)).toEqual(expectedWords(12));
    expect(stream.stats.failovers).toBe(1);
    expect(secondary.streams.length).toBe(1);
  });

  it('rejects open with the provider key error at once, without retrying, when there is no fallback', async () => {
    const fake = new FakeProvider('fake');
    fake.openFailures = [providerFailure('auth', 'bad key'), providerFailure('auth', 'bad key')];
    const provider = createResilientProvider(fake, { retry: FAST_RETRY });
    await expect(provider.open(OPTIONS)).rejects.toMatchObject({
      code: 'provider_unavailable',
      fatal: true,
    });
    expect(fake.openFailures.length).toBe(1);
  });

  it('ends the session with one fatal error when every reconnect fails, leaving no timer', async () => {
    const fake = new FakeProvider('fake');
    const { stream, out } = await start(fake);
    for (let n = 0; n < 2; n++) stream.write(block(n));
    fake.openFailures = Array.from({ length: 10 }, () => providerFailure('unreachable', 'down'));
    fake.live!.drop();
    await tick(200);
    expect(out.errors.map((e) => [e.code, e.fatal])).toEqual([['provider_unavailable', true]]);
    expect(out.closed).toBe(true);
    expect(stream.stats.reconnects).toBe(0);
  });

  it('rolls over before the stream limit at a pause, each upstream under its limit, no word lost', async () => {
    const fake = new FakeProvider('fake', { maxStreamSeconds: 4 });
    const { stream, out } = await start(fake);
    for (let n = 0; n < 48; n++) {
      stream.write(block(n)); // 12 s of audio
      await tick(1);
    }
    await stream.end();
    expect(spokenWords(out.finals)).toEqual(expectedWords(48));
    expect(stream.stats.rollovers).toBeGreaterThanOrEqual(3);
    for (const s of fake.streams) expect(s.received / RATE).toBeLessThanOrEqual(4);
    const ids = out.finals.map((f) => f.segmentId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("keeps a silent upstream alive with the provider's keepalive message", async () => {
    const fake = new FakeProvider('fake', { idleTimeoutSeconds: 0.6 });
    const { stream } = await start(fake);
    stream.write(block(0));
    await tick(1400);
    expect(fake.live!.keepAlives).toBeGreaterThanOrEqual(2);
    expect(stream.stats.keepAlives).toBe(fake.live!.keepAlives);
  });

  it('keeps it alive with silence where there is no message, without shifting transcript times', async () => {
    const fake = new FakeProvider('fake', { idleTimeoutSeconds: 0.6 }, false);
    const { stream, out } = await start(fake);
    for (let n = 0; n < 2; n++) stream.write(block(n));
    await tick(900);
    const silence = fake.live!.received / RATE - 0.5;
    expect(silence).toBeGreaterThan(0.2);
    for (let n = 2; n < 4; n++) stream.write(block(n));
    await stream.end();
    // Session time: w2 starts at 0.5 s of audio received, whatever silence went upstream.
    expect(out.finals.flatMap((f) => f.words).find((w) => w.word === 'w2')?.start).toBeCloseTo(
      0.5,
      5,
    );
  });

  it('ends within the final timeout when the last final never comes, keeping the words heard', async () => {
    const fake = new FakeProvider('fake');
    const { stream, out } = await start(fake, { finalTimeoutSeconds: 0.2 });
    for (let n = 0; n < 2; n++) stream.write(block(n));
    fake.live!.silent = true;
    const started = Date.now();
    await stream.end();
    expect(Date.now() - started).toBeLessThan(1500);
    expect(out.finals.map((f) => f.text)).toEqual(['w0 w1']);
    expect(stream.stats.finalsTimedOut).toBe(1);
  });

  it('waits for the last finals as long as the provider keeps answering (a backlog), not a fixed time', async () => {
    const fake = new FakeProvider('fake');
    const { stream, out } = await start(fake, { finalTimeoutSeconds: 0.3 });
    fake.live!.silent = true; // heard, not yet answered: the provider is behind
    for (let n = 0; n < 3; n++) stream.write(block(n));
    fake.live!.silent = false;
    fake.live!.backlogSteps = 8; // 0.8 s of progress before its final, past the 0.3 s wait
    await stream.end();
    expect(spokenWords(out.finals)).toEqual(expectedWords(3));
    expect(stream.stats.finalsTimedOut).toBe(0);
  });

  it('replaces an upstream that stops answering mid-utterance', async () => {
    const fake = new FakeProvider('fake');
    const { stream, out } = await start(fake, { stallTimeoutSeconds: 0.3 });
    for (let n = 0; n < 2; n++) stream.write(block(n)); // interim shown
    fake.live!.silent = true;
    for (let i = 0; i < 8; i++) {
      await tick(100);
      stream.write(new Uint8Array((BLOCK * 2) / 4)); // silence keeps flowing
    }
    expect(stream.stats.reconnects).toBe(1);
    await stream.end();
    expect(spokenWords(out.finals)).toEqual(expectedWords(2));
  });

  it('leaves alone an upstream that is only kept alive while no audio comes (a client away)', async () => {
    const fake = new FakeProvider('fake', { idleTimeoutSeconds: 0.3 });
    const { stream } = await start(fake, { stallTimeoutSeconds: 0.6 });
    for (let n = 0; n < 2; n++) stream.write(block(n)); // an utterance open
    fake.live!.silent = true;
    await tick(1500); // keepalives go, no audio: nothing for the upstream to answer
    expect(fake.live!.keepAlives).toBeGreaterThanOrEqual(2);
    expect(stream.stats.reconnects).toBe(0);
    expect(fake.streams.length).toBe(1);
  });
});

describe('the warm pool', () => {
  it('hands a session an upstream opened ahead of time, and refills behind it', async () => {
    const fake = new FakeProvider('fake', { idleTimeoutSeconds: 2 });
    const provider = createResilientProvider(fake, { warm: { size: 1, options: OPTIONS } });
    await provider.warmPool!.whenFull();
    expect(fake.streams.length).toBe(1);
    const stream = await provider.open(OPTIONS);
    open.push(stream);
    const out = collect(stream);
    expect(fake.streams[0]!.closed).toBe(false);
    for (let n = 0; n < 4; n++) stream.write(block(n));
    await stream.end();
    expect(spokenWords(out.finals)).toEqual(expectedWords(4));
    await provider.warmPool!.whenFull();
    expect(fake.streams.length).toBe(2);
    await provider.close?.();
    expect(fake.streams.every((s) => s.closed)).toBe(true);
  });

  it('opens a fresh upstream for options the pool was not warmed for', async () => {
    const fake = new FakeProvider('fake');
    const provider = createResilientProvider(fake, { warm: { size: 1, options: OPTIONS } });
    await provider.warmPool!.whenFull();
    const stream = await provider.open({ ...OPTIONS, language: 'de-DE' });
    open.push(stream);
    expect(fake.streams.length).toBe(2);
    await provider.close?.();
  });
});

describe('the transcript joiner', () => {
  it('keeps an interim without words that starts exactly where the last final ended', async () => {
    const { TranscriptJoiner } = await import('./transcript-joiner.js');
    const joiner = new TranscriptJoiner('t');
    const word = { word: 'w0', start: 0, end: 1, confidence: 0.9 };
    joiner.accept(1, {
      segmentId: 'a',
      isFinal: true,
      text: 'w0',
      words: [word],
      start: 0,
      end: 1,
    });
    const next = { segmentId: 'b', isFinal: false, text: 'w1', words: [], start: 1, end: 1 };
    expect(joiner.accept(1, next)?.text).toBe('w1');
    const replayed = {
      segmentId: 'c',
      isFinal: false,
      text: 'w0',
      words: [],
      start: 0.2,
      end: 0.9,
    };
    expect(joiner.accept(2, replayed)).toBeUndefined();
  });
});
