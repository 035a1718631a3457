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
process.exitCode = code;
// A pipe that is full takes the rest of a large report asynchronously: wait until both streams
// have handed everything to the kernel, then leave even if a stray handle lingers.
const drained = (stream: NodeJS.WriteStream): Promise<void> =>
  new Promise((resolve) => (stream.writableLength === 0 ? resolve() : stream.write('', () => resolve())));
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit(code);
