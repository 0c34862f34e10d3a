#!/usr/bin/env node
// The two commands of the README, `npm test` and `npm run demo`, start here. On a fresh machine
// with only Node 20 and npm they install what is missing: the Debian packages the local engine
// and the tests use (with apt-get when running as root, otherwise one line saying what to
// install), pnpm at the version pinned in package.json (fetched from the npm registry with
// npx, since corepack's signature check fails on some machines), and the workspace itself.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const job = process.argv[2];
const jobs = {
  // What each job needs from Debian: package → a file that shows it is installed.
  demo: {
    packages: {
      pocketsphinx: '/usr/bin/pocketsphinx_continuous',
      'pocketsphinx-en-us': '/usr/share/pocketsphinx/model/en-us/en-us/mdef',
      // The voice-agent replies and phone replies are spoken by the offline responder.
      'espeak-ng': '/usr/bin/espeak-ng',
    },
    run: ['run', 'demo:start'],
  },
  test: {
    packages: {
      pocketsphinx: '/usr/bin/pocketsphinx_continuous',
      'pocketsphinx-en-us': '/usr/share/pocketsphinx/model/en-us/en-us/mdef',
      'pocketsphinx-testdata': '/usr/share/pocketsphinx/test/data/librivox/transcription',
      ffmpeg: '/usr/bin/ffmpeg',
      sox: '/usr/bin/sox',
      'espeak-ng': '/usr/bin/espeak-ng',
      flite: '/usr/bin/flite',
      // Headless Chromium for the demo page's browser tests (driven by playwright-core).
      chromium: '/usr/bin/chromium',
      // Real database servers the store and cluster tests start on free ports.
      postgresql: '/usr/bin/pg_lsclusters',
      'redis-server': '/usr/bin/redis-server',
    },
    run: ['run', 'check'],
  },
};

const spec = jobs[job];
if (!spec) {
  console.error(`usage: node scripts/bootstrap.mjs <${Object.keys(jobs).join('|')}>`);
  process.exit(2);
}

ensureDebianPackages(spec.packages);
// Reports from an earlier run must not stand in for this one.
const reports = ['vitest-report.json', 'vitest-browser-report.json'].map((name) =>
  join(root, '.earshot', name),
);
for (const report of reports) rmSync(report, { force: true });
const pnpm = pnpmCommand();
run(pnpm, ['install', '--frozen-lockfile', '--prefer-offline', '--reporter=append-only']);
const result = spawnSync(pnpm[0], [...pnpm.slice(1), ...spec.run], { cwd: root, stdio: 'inherit' });
if (job === 'test') printTestSummary();
process.exit(result.status ?? 1);

// One plain closing line that any CI reads the same way: "tests: N passed, N failed", over
// the main run and the browser run.
function printTestSummary() {
  const found = reports.filter((report) => existsSync(report));
  if (found.length === 0) return;
  const total = { passed: 0, failed: 0, skipped: 0 };
  for (const report of found) {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    total.passed += r.numPassedTests;
    total.failed += r.numFailedTests;
    total.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  }
  const skipped = total.skipped ? `, ${total.skipped} skipped` : '';
  console.log(`tests: ${total.passed} passed, ${total.failed} failed${skipped}`);
}

function ensureDebianPackages(wanted) {
  const missing = Object.entries(wanted)
    .filter(([, file]) => !existsSync(file))
    .map(([name]) => name);
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = existsSync('/usr/bin/apt-get');
  if (!isRoot || !hasApt) {
    console.error(
      `earshot: missing system packages; install them with: sudo apt-get install -y ${missing.join(' ')}`,
    );
    process.exit(1);
  }
  console.log(`earshot: installing ${missing.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run(['apt-get'], ['update', '-qq'], { env });
  run(['apt-get'], ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

function pnpmCommand() {
  const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager;
  const version = pinned.replace(/^pnpm@/, '').split('+')[0];
  try {
    const found = execFileSync('pnpm', ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (found === version) return ['pnpm'];
  } catch {
    // not on PATH: fetch the pinned version below
  }
  return ['npx', '--yes', `pnpm@${version}`];
}

function run(command, args, options = {}) {
  const result = spawnSync(command[0], [...command.slice(1), ...args], {
    cwd: root,
    stdio: 'inherit',
    ...options,
  });
  if (result.status !== 0) {
    console.error(
      `earshot: '${[...command, ...args].join(' ')}' failed (exit ${result.status ?? result.signal})`,
    );
    process.exit(result.status ?? 1);
  }
}
