import assert from 'node:assert/strict';
import {
  OggDemuxer,
  OpusContainerClock,
  opusPacketSamples,
  parseOpusHead,
  WebmDemuxer,
} from '@earshot/providers/containers';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  applyByteEdits,
  byteEditArb,
  oggOpus,
  opusPacketsArb,
  splitAt,
  webmOpus,
} from './container-builders.js';

// Property-based fuzzing of the WebM and Ogg demuxers that read every Opus stream a browser
// sends (packages/providers/src/containers), and of the clock that times a container passed
// through untouched. Fixed seed per property; fast-check prints seed and path on failure.

type Container = 'webm' | 'ogg';

interface Demuxed {
  packets: Uint8Array[];
  invalid: { message: string; fatal: boolean }[];
  /** Whether anything was reported after a fatal report. */
  eventAfterFatal: boolean;
}

const MAX_PACKET_BYTES = 64 * 1024;

/**
 * Feeds `chunks` to a fresh demuxer and records what it reports. Its contract under any bytes:
 * `write` and `end` never throw, packets are bounded by the configured limit, problems are
 * reported as messages, and nothing follows a fatal report.
 */
function demux(container: Container, chunks: readonly Uint8Array[], checkCrc = true): Demuxed {
  const seen: Demuxed = { packets: [], invalid: [], eventAfterFatal: false };
  let fatal = false;
  const events = {
    packet: (packet: Uint8Array) => {
      if (fatal) seen.eventAfterFatal = true;
      assert.ok(packet.byteLength <= MAX_PACKET_BYTES, `a packet of ${packet.byteLength} bytes`);
      seen.packets.push(packet.slice());
    },
    invalid: (message: string, isFatal: boolean) => {
      if (fatal) seen.eventAfterFatal = true;
      assert.equal(typeof message, 'string');
      seen.invalid.push({ message, fatal: isFatal });
      fatal ||= isFatal;
    },
  };
  const demuxer =
    container === 'webm'
      ? new WebmDemuxer(
          { ...events, track: () => undefined },
          { maxElementBytes: MAX_PACKET_BYTES },
        )
      : new OggDemuxer(
          { ...events, head: () => undefined },
          { maxPacketBytes: MAX_PACKET_BYTES, checkCrc },
        );
  try {
    for (const chunk of chunks) demuxer.write(chunk);
    demuxer.end();
  } catch (error) {
    assert.fail(`the ${container} demuxer threw: ${String(error)}`);
  }
  return seen;
}

const build = (container: Container, packets: readonly Uint8Array[]) =>
  container === 'webm' ? webmOpus(packets) : oggOpus(packets);

const containerArb = fc.constantFrom<Container>('webm', 'ogg');
const cutsArb = fc.array(fc.nat(), { maxLength: 12 });

// Cases per property, sized so the file takes about 4 s on two shared cores.
const RUNS = {
  roundTrip: 8_000,
  mutated: 25_000,
  randomBytes: 40_000,
  clock: 8_000,
  opusHead: 200_000,
  packetSamples: 200_000,
};

describe('the WebM and Ogg demuxers under fuzzing', () => {
  it('give back exactly the packets a stream was built from, however its bytes are split', () => {
    fc.assert(
      fc.property(containerArb, opusPacketsArb, cutsArb, (container, packets, cuts) => {
        const seen = demux(container, splitAt(build(container, packets), cuts));
        assert.deepEqual(seen.invalid, []);
        assert.deepEqual(
          seen.packets.map((p) => Buffer.from(p).toString('hex')),
          packets.map((p) => Buffer.from(p).toString('hex')),
        );
      }),
      { seed: 0x5eed_0401, numRuns: RUNS.roundTrip },
    );
  });

  it('survive streams with bytes overwritten, cut, inserted, repeated or sizes made huge', () => {
    fc.assert(
      fc.property(
        containerArb,
        opusPacketsArb,
        fc.array(byteEditArb, { minLength: 1, maxLength: 5 }),
        cutsArb,
        fc.boolean(),
        (container, packets, edits, cuts, checkCrc) => {
          const bytes = applyByteEdits(build(container, packets), edits);
          const seen = demux(container, splitAt(bytes, cuts), checkCrc);
          assert.equal(seen.eventAfterFatal, false);
        },
      ),
      { seed: 0x5eed_0402, numRuns: RUNS.mutated },
    );
  });

  it('survive random bytes behind a container magic, and report them as not that container', () => {
    const magic = fc.constantFrom(
      [],
      [0x1a, 0x45, 0xdf, 0xa3],
      [0x1a, 0x45, 0xdf, 0xa3, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      [0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      [...Buffer.from('OggS\0\x02')],
    );
    fc.assert(
      fc.property(
        containerArb,
        magic,
        fc.uint8Array({ maxLength: 512 }),
        cutsArb,
        (container, prefix, rest, cuts) => {
          const bytes = Buffer.concat([Buffer.from(prefix), rest]);
          const seen = demux(container, splitAt(bytes, cuts));
          assert.equal(seen.eventAfterFatal, false);
          // Nothing that declares no Opus track or stream may give packets.
          assert.deepEqual(seen.packets, []);
          assert.ok(seen.invalid.length > 0, 'random bytes were taken for a stream');
        },
      ),
      { seed: 0x5eed_0403, numRuns: RUNS.randomBytes },
    );
  });

  it('time a passed-through container by its packets: never backwards, never more than it holds', () => {
    fc.assert(
      fc.property(
        containerArb,
        opusPacketsArb,
        fc.array(byteEditArb, { maxLength: 3 }),
        cutsArb,
        (container, packets, edits, cuts) => {
          const clock = new OpusContainerClock(container === 'webm' ? 'webm-opus' : 'ogg-opus');
          const bytes = applyByteEdits(build(container, packets), edits);
          let last = 0;
          for (const chunk of splitAt(bytes, cuts)) {
            const added = clock.write(chunk);
            assert.ok(Number.isFinite(added) && added >= 0);
            assert.ok(clock.seconds >= last);
            last = clock.seconds;
          }
          clock.end();
          if (edits.length === 0) {
            const expected = packets.reduce((sum, p) => sum + opusPacketSamples(p), 0) / 48000;
            assert.ok(Math.abs(clock.seconds - expected) < 1e-9);
          }
        },
      ),
      { seed: 0x5eed_0404, numRuns: RUNS.clock },
    );
  });

  it('parseOpusHead reads a header or refuses any bytes, never throwing', () => {
    const head = fc
      .tuple(fc.constantFrom('OpusHead', 'OpusTags', 'Opus'), fc.uint8Array({ maxLength: 24 }))
      .map(([magic, rest]) => Buffer.concat([Buffer.from(magic, 'latin1'), rest]));
    fc.assert(
      fc.property(fc.oneof(head, fc.uint8Array({ maxLength: 32 })), (bytes) => {
        const parsed = parseOpusHead(bytes);
        if (parsed) {
          assert.ok(parsed.channels >= 1 && parsed.channels <= 255);
          assert.ok(Number.isFinite(parsed.outputGainDb));
        }
      }),
      { seed: 0x5eed_0405, numRuns: RUNS.opusHead },
    );
  });

  it('opusPacketSamples gives any packet a duration of whole 2.5 ms frames, at most 120 ms', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4 }), (packet) => {
        const samples = opusPacketSamples(packet);
        assert.ok(Number.isInteger(samples) && samples >= 0);
        assert.equal(samples % 120, 0);
        // RFC 6716 §3.2.5: a packet holds at most 120 ms… but a code-3 count byte may claim up to
        // 63 frames; the clock must still not run away.
        assert.ok(samples <= 63 * 2880);
      }),
      { seed: 0x5eed_0406, numRuns: RUNS.packetSamples },
    );
  });
});
