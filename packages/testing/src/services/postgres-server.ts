import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort } from '../leaks.js';
import { LocalService } from './local-service.js';

/** A throwaway PostgreSQL cluster on a free loopback port (see {@link startPostgres}). */
export interface PostgresServer {
  /** Connection URL of the `postgres` database, as superuser `postgres` (trust auth). */
  readonly url: string;
  readonly port: number;
  /** Whether the server is running (not stopped for an outage). */
  readonly running: boolean;
  /** A URL of a fresh, empty database created in this cluster. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server, keeping its data: an outage. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops the server and deletes its data. */
  destroy(): Promise<void>;
}

/** The folder of PostgreSQL's server programs (`initdb`, `postgres`), newest version first. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error('PostgreSQL is not installed: sudo apt-get install -y postgresql');
  }
  return join(root, versions[0]!, 'bin');
}

/** PostgreSQL refuses to run as root; as root, run it as the `postgres` system user. */
function serviceUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root, and there is no postgres user to run PostgreSQL');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

let databases = 0;

/**
 * Starts a real PostgreSQL server for tests: a new cluster (`initdb`, trust auth) in a
 * temporary folder, listening on a free loopback port, run in the foreground as a child of
 * this process. Durability settings are PostgreSQL's defaults except `fsync`, which is off:
 * the tests kill Earshot, never PostgreSQL.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const user = serviceUser();
  const dir = mkdtempSync(join(tmpdir(), 'earshot-pg-'));
  const data = join(dir, 'data');
  if (user) chownSync(dir, user.uid, user.gid);
  execFileSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'],
    { stdio: 'pipe', uid: user?.uid, gid: user?.gid },
  );
  const port = await closedPort();
  const isReady = join(bin, 'pg_isready');
  const service = new LocalService({
    name: 'PostgreSQL',
    command: join(bin, 'postgres'),
    args: [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'max_connections=200',
    ],
    ...user,
    // "Fast" shutdown: connected clients are dropped, as in a real outage.
    stopSignal: 'SIGINT',
    ready: async () => {
      try {
        execFileSync(isReady, ['-q', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'], {
          stdio: 'ignore',
        });
        return true;
      } catch {
        return false;
      }
    },
  });
  await service.start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    get running() {
      return service.running;
    },
    async createDatabase(name = `earshot_${process.pid}_${++databases}`) {
      execFileSync(
        'psql',
        [
          '-q',
          '-h',
          '127.0.0.1',
          '-p',
          String(port),
          '-U',
          'postgres',
          '-c',
          `CREATE DATABASE "${name}"`,
        ],
        { stdio: 'pipe' },
      );
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop: () => service.stop(),
    start: () => service.start(),
    async destroy() {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
