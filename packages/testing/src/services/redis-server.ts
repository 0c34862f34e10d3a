import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { closedPort } from '../leaks.js';
import { LocalService } from './local-service.js';

/** A throwaway Redis server on a free loopback port (see {@link startRedis}). */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Stops the server: an outage. Nothing is persisted. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

/** Whether Redis answers `PING` on `port`. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/**
 * Starts a real `redis-server` for tests on a free loopback port, in the foreground as a child
 * of this process, with persistence off.
 */
export async function startRedis(): Promise<RedisServer> {
  const command = '/usr/bin/redis-server';
  if (!existsSync(command)) {
    throw new Error('Redis is not installed: sudo apt-get install -y redis-server');
  }
  const port = await closedPort();
  const service = new LocalService({
    name: 'Redis',
    command,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    ready: () => ping(port),
  });
  await service.start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => service.stop(),
    start: () => service.start(),
  };
}
