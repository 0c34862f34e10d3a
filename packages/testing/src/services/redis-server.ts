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
  /** Kills it with SIGKILL, as a crash does: connections reset, nothing persisted. */
  kill(): Promise<void>;
  /** Kills it (SIGKILL) and starts it again on the same port, empty: a crash and a restart. */
  restart(): Promise<void>;
  /**
   * Freezes it (SIGSTOP): connections stay open and commands are taken, but nothing answers
   * until {@link RedisServer.resume}.
   */
  pause(): void;
  /** Lets a paused server answer again (SIGCONT). */
  resume(): void;
  /** Whether it is running (started and not stopped or killed). */
  readonly running: boolean;
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
    kill: () => service.kill(),
    restart: async () => {
      await service.kill();
      await service.start();
    },
    pause: () => service.pause(),
    resume: () => service.resume(),
    get running() {
      return service.running;
    },
  };
}
