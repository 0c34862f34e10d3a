export { CLINICAL_DRUGS, CLINICAL_LAB_TESTS, clinicalCommands } from './clinical.js';
export {
  type CommandDefinition,
  type CommandDetector,
  type CommandMatch,
  type CommandSet,
  createCommandDetector,
} from './command-detector.js';
export { CommandGrammarError } from './command-grammar-error.js';
export {
  type CommandResolverOptions,
  type CommandSetOverrides,
  createCommandResolver,
  extendCommandSet,
} from './command-sets.js';
export { CommandTracker, type TranscriptSpan } from './command-tracker.js';
export { DEFAULT_TOLERANCE, type MatchTolerance } from './matcher.js';
export { normalizeTranscript } from './normalize.js';
export { editDistance, phoneticKey, soundDistance } from './phonetic.js';
export type { Dose, Duration, LexiconEntry } from './slot-types.js';
export { type Parsed, parseSpokenNumber } from './spoken-numbers.js';
