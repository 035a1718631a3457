#!/usr/bin/env node
import { main } from './main.js';

const code = await main(process.argv.slice(2));
// Let pending writes drain, then leave even if a stray handle (a socket in TIME_WAIT close) lingers.
process.exitCode = code;
setImmediate(() => process.exit(code)).unref();
