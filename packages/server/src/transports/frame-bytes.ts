/**
 * A `ws` message's data as one Buffer. `ws` hands over a Buffer, or an array of fragments / an
 * ArrayBuffer depending on its binaryType; the server keeps the default (Buffer), so this is
 * a no-copy cast in practice.
 */
export function frameBytes(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
