#!/usr/bin/env node
import { main } from './main.js';

// `badgateway … | head`: a reader that goes away is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const code = await main(process.argv.slice(2));
// Let pending writes drain, then leave even if a stray handle (a socket in TIME_WAIT close) lingers.
process.exitCode = code;
setImmediate(() => process.exit(code)).unref();
