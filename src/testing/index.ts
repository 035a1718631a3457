/**
 * Helpers the tests and the benchmarks share: running a command to completion, a server in its
 * own process group, a real nginx with a hand-written config. Not part of the package's API (no
 * `exports` entry points here); they live in `src/` so that `bench/` needs nothing from `test/`.
 */
export { runCommand, type CliResult, type RunOptions } from './run-command.js';
export { spawnGroupChild, type GroupChild } from './process-group.js';
export { startCustomNginx, type CustomNginx, type CustomNginxConfig } from './nginx-custom.js';
