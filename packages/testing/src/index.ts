export { CONTRACT_SCRIPT, contractAudioChunk } from './contract/contract-script.js';
export * from './emulators/index.js';
export { JsonSocket, type OfType, openJsonSocket, type TypedMessage } from './json-socket.js';
export {
  childProcesses,
  closedPort,
  commandLine,
  countResources,
  describeLeaks,
  hasLeaks,
  killLeftoverProcesses,
  LEAK_KINDS,
  type LeakSnapshot,
  type Leaks,
  leakSnapshot,
  leaksSince,
  leftoverResources,
  processAlive,
  resourcesAddedSince,
  settledLeakSnapshot,
  until,
} from './leaks.js';
export {
  makeOpusFixtures,
  OPUS_FIXTURE_RECORDING,
  type OpusFixtures,
  randomChunks,
  readPcm16,
  toLiveWebm,
} from './opus-fixtures.js';
export { referenceTranscript } from './reference-transcript.js';
export { seededRandom } from './seeded-random.js';
export { type PostgresServer, postgresBinDir, startPostgres } from './services/postgres-server.js';
export { type RedisServer, startRedis } from './services/redis-server.js';
export {
  LIBRIVOX_DIR,
  type SpeechFixture,
  type SynthesizeOptions,
  speechFixtures,
  speechWithPauses,
  synthesizeSpeech,
} from './speech-fixtures.js';
export {
  TwilioCaller,
  type TwilioCallerOptions,
  type TwilioOutboundFrame,
} from './twilio/twilio-caller.js';
export { encodeWavPcm16, parseWavPcm16, readWavPcm16, type WavPcm16 } from './wav.js';
export { normalizeWords, wordErrorRate } from './word-error-rate.js';
