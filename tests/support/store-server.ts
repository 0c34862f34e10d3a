// A server process for the kill -9 tests: the local engine, the store a URL names. It prints
// its address as one JSON line once it listens, and is killed without warning.
import { createLocalProvider } from '@earshot/providers/local';
import { createStoreFromUrl } from '@earshot/server';
import { listen } from '@earshot/server/node';

const store = await createStoreFromUrl(process.argv[2] ?? 'memory:');
const server = await listen({ provider: createLocalProvider(), store, port: 0 });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
