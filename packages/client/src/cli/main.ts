#!/usr/bin/env node
import { runCli } from './run-cli.js';

// Ctrl-C ends the transcription cleanly (the socket is closed) instead of killing the process
// mid-frame; a second Ctrl-C is left to Node's default and exits at once.
const controller = new AbortController();
process.once('SIGINT', () => controller.abort());

// No top-level await: the bin is also built as CommonJS.
void runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
}).then((code) => {
  process.exitCode = code;
});
