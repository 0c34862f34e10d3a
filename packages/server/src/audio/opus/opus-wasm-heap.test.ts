import { WebmDemuxer } from '@earshot/providers/containers';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeOpusFixtures, type OpusFixtures } from './__fixtures__/opus-fixtures.js';
import { type OpusDecoderState, OpusWasmHeap, OpusWasmHeapPool } from './opus-wasm-heap.js';

let fixtures: OpusFixtures;
let packets: Uint8Array[];

beforeAll(async () => {
  fixtures = await makeOpusFixtures();
  packets = [];
  const demuxer = new WebmDemuxer({
    track: () => {},
    packet: (p) => packets.push(p.slice()),
    invalid: (message) => {
      throw new Error(message);
    },
  });
  demuxer.write(fixtures.liveWebm);
  demuxer.end();
}, 60_000);

afterAll(() => fixtures?.cleanup());

/** Decodes `count` packets with `state` and returns the samples, joined. */
function decodeRun(state: OpusDecoderState, from: number, count: number): Buffer {
  const output = new Output();
  for (const packet of packets.slice(from, from + count)) output.add(decodeOne(state, packet));
  return output.bytes();
}

function decodeOne(state: OpusDecoderState, packet: Uint8Array): Float32Array {
  const frame = state.heap.decode(state, packet);
  if (typeof frame === 'number') throw new Error(`libopus error ${frame}`);
  return frame.left;
}

/** Decoded samples, kept as bytes so runs compare exactly and fast. */
class Output {
  private readonly parts: Buffer[] = [];
  add(samples: Float32Array): void {
    this.parts.push(
      Buffer.from(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength)),
    );
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

async function acquireNow(pool: OpusWasmHeapPool, rate = 16000): Promise<OpusDecoderState> {
  return await pool.acquire(rate, 1, 0);
}

describe('OpusWasmHeap: many decoders in one libopus instance', () => {
  test('a fresh heap passes its layout probe, so states can be freed one by one', async () => {
    const heap = await OpusWasmHeap.create();
    expect(heap.sharable).toBe(true);
  });

  test('interleaved sessions in one heap decode exactly as a decoder alone does', async () => {
    const pool = new OpusWasmHeapPool();
    const alone = await acquireNow(pool);
    const reference = decodeRun(alone, 0, packets.length);
    pool.release(alone);
    expect(reference.byteLength).toBeGreaterThan(16000 * 5 * 4);

    const sessions = await Promise.all(Array.from({ length: 40 }, () => acquireNow(pool)));
    expect(pool.size).toBe(1);
    const outputs = sessions.map(() => new Output());
    // Packet k of every session before packet k+1 of any: their states must not bleed.
    for (const packet of packets) {
      sessions.forEach((state, s) => {
        outputs[s]!.add(decodeOne(state, packet));
      });
    }
    for (const output of outputs) expect(output.bytes().equals(reference)).toBe(true);
    for (const state of sessions) pool.release(state);
  });

  test('thousands of sessions opening and closing reuse the same memory and stay exact', async () => {
    const pool = new OpusWasmHeapPool();
    const first = await acquireNow(pool);
    const reference = decodeRun(first, 0, 50);
    pool.release(first);
    let highest = 0;
    for (let i = 0; i < 3000; i++) {
      const state = await acquireNow(pool, [8000, 16000, 24000, 48000][i % 4]);
      highest = Math.max(highest, state.pointer);
      decodeRun(state, i % packets.length, 3);
      pool.release(state);
    }
    expect(pool.size).toBe(1);
    // Freed states are reused: nothing climbs through the 28 MiB heap.
    expect(highest - first.pointer).toBeLessThan(1024 * 1024);
    const last = await acquireNow(pool);
    expect(decodeRun(last, 0, 50).equals(reference)).toBe(true);
    pool.release(last);
  });

  test('a full heap makes the pool start another, and the extra one goes when emptied', async () => {
    const pool = new OpusWasmHeapPool();
    const states: OpusDecoderState[] = [];
    while (pool.size < 2) states.push(await acquireNow(pool, 48000));
    expect(states.length).toBeGreaterThan(100);
    const last = states.at(-1)!;
    const reference = decodeRun(last, 0, 20);
    expect(reference.byteLength).toBeGreaterThan(0);
    for (const state of states) pool.release(state);
    expect(pool.size).toBe(1);
    const again = await acquireNow(pool, 48000);
    expect(decodeRun(again, 0, 20).equals(reference)).toBe(true);
    pool.release(again);
  });
});
