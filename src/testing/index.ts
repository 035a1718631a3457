/**
 * What the tests and the benchmarks share: the CLI run as a child process, servers in their own
 * process group, a real nginx with a hand-written config. Not part of the package's API (the
 * `exports` map leaves it out, and `files` leaves it out of the tarball); nothing in src/ outside
 * this folder imports it.
 */
export { BIN, runCli, runCommand, startCli, type CliResult, type RunOptions, type RunningCli } from './cli.js';
export { spawnGroupChild, type GroupChild } from './process-group.js';
export { startCustomNginx, type CustomNginx, type CustomNginxConfig } from './nginx-custom.js';
