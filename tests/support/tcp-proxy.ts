import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP proxy on loopback whose connections a test can cut, as a network drop would. */
export interface TcpProxy {
  /** `127.0.0.1:<port>` the proxy listens on. */
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /**
   * Destroys every connection through the proxy, both sides, with no close handshake. With
   * `losingMs`, first drops whatever the clients send for that long (a link that died before
   * anyone noticed), so the server surely misses audio the client believes it sent.
   */
  cut(options?: { losingMs?: number }): Promise<void>;
  /** Sends new connections to `127.0.0.1:targetPort` from now on (another node, after a cut). */
  retarget(targetPort: number): void;
  close(): Promise<void>;
}

/** Starts a proxy that forwards every connection to `127.0.0.1:targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let accepted = 0;
  let target = targetPort;
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = connect(target, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no proxy port');
  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    async cut(options = {}) {
      const cutting = [...pairs];
      if (options.losingMs) {
        for (const [client, upstream] of cutting) {
          client.unpipe(upstream);
          client.on('data', () => undefined); // lost on the way
        }
        await new Promise((resolve) => setTimeout(resolve, options.losingMs));
      }
      for (const pair of cutting) {
        pair[0].resetAndDestroy();
        pair[1].resetAndDestroy();
        pairs.delete(pair);
      }
    },
    retarget(port) {
      target = port;
    },
    close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
