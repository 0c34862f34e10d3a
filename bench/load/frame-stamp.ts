// The stamp every load frame carries so the emulator can echo it and the load generator can
// time the round trip: 12 bytes at the start of the frame's PCM16, read back by the emulator
// and returned as the text of its result (`<session>.<seq>`).
//
// Why not the stamps of @earshot/testing (`stampedAudio`, STAMP_SECONDS)? They mark 100 ms
// chunks with a quiet 11-sample pattern found by a per-sample sliding window (an array shift
// per sample): robust to any re-chunking, but 16 000 shifts a second per session would make
// the shared emulator the bottleneck at 400 × 20 ms. Here a stamp is read at a fixed place in
// each frame, which holds because both servers under test pass frames through untouched
// (Earshot's PCM16 pass-through forwards each client frame as one provider frame); a frame
// that arrives without a stamp at its start is counted by the emulator, so re-chunking would
// show in the report instead of going unnoticed.

/** Bytes of a stamp: magic, session key, frame sequence number (each uint32, little endian). */
export const STAMP_BYTES = 12;

// 'LOAD' as little-endian bytes: not a value silence or a quiet signal takes.
const MAGIC = 0x44414f4c;

/** PCM16 16 kHz mono, the format of every load session. */
export const SAMPLE_RATE = 16_000;
export const BYTES_PER_SECOND = SAMPLE_RATE * 2;

/** A frame of `frameMs` of PCM16 silence, stamped with `key` and `seq`. */
export function stampedFrame(frameMs: number, key: number, seq: number): Buffer {
  // A fresh buffer per frame: `ws` may still hold the previous one in its send queue.
  const frame = Buffer.alloc((BYTES_PER_SECOND * frameMs) / 1000);
  frame.writeUInt32LE(MAGIC, 0);
  frame.writeUInt32LE(key, 4);
  frame.writeUInt32LE(seq, 8);
  return frame;
}

/** The key and sequence number at the start of `frame`, if it starts with a stamp. */
export function readStamp(frame: Uint8Array): { key: number; seq: number } | undefined {
  if (frame.byteLength < STAMP_BYTES) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, STAMP_BYTES);
  if (view.getUint32(0, true) !== MAGIC) return undefined;
  return { key: view.getUint32(4, true), seq: view.getUint32(8, true) };
}

/** The text a result carries for a frame: what the load generator matches. */
export function stampText(key: number, seq: number): string {
  return `${key}.${seq}`;
}

/** The session key and sequence number a result's text names, if it names one. */
export function parseStampText(text: string): { key: number; seq: number } | undefined {
  // The last word: a final of several pieces would join them with spaces.
  const word = text.slice(text.lastIndexOf(' ') + 1);
  const dot = word.indexOf('.');
  if (dot <= 0) return undefined;
  const key = Number(word.slice(0, dot));
  const seq = Number(word.slice(dot + 1));
  return Number.isInteger(key) && Number.isInteger(seq) ? { key, seq } : undefined;
}
