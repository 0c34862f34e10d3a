export {
  type CommandDefinition,
  type CommandDetector,
  type CommandMatch,
  type CommandSet,
  createCommandDetector,
} from './command-detector.js';
export { CommandGrammarError } from './command-grammar-error.js';
export { normalizeTranscript } from './normalize.js';
