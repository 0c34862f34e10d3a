// `ws` and `eventemitter3` for the load bench, taken from @earshot/testing, which depends on
// both: they are not dependencies of @earshot/bench, and adding them would change the lockfile
// for a bench. Their types come through bench/load/tsconfig.json's `paths`, under names
// (`@bench-load/…`) that only type imports use: tsx applies `paths` to runtime imports too.
import { createRequire } from 'node:module';
import type * as EventEmitter3 from '@bench-load/eventemitter3';
import type * as Ws from '@bench-load/ws';

const require = createRequire(new URL('../../packages/testing/package.json', import.meta.url));

/** The `ws` package. */
export const ws = require('ws') as typeof Ws;
/** eventemitter3's EventEmitter, as @earshot/testing's transcriber sessions extend it. */
export const EventEmitter = (require('eventemitter3') as typeof EventEmitter3).EventEmitter;
