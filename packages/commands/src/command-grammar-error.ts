/** Thrown when a command set does not compile: the message points at the faulty part. */
export class CommandGrammarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandGrammarError';
  }
}
