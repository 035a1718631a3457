import type { Writable } from 'node:stream';

import type { Closable } from '../util/index.js';

export type { Closable } from '../util/index.js';

/** What a subcommand gets from the CLI layer; the only way it reaches stdout, signals and exit codes. */
export interface CliContext {
  readonly stdout: Writable & { isTTY?: boolean; columns?: number };
  readonly stderr: Writable & { isTTY?: boolean };
  /** Aborted on the first SIGINT/SIGTERM: long runs stop and still report what they have. */
  readonly signal: AbortSignal;
  /**
   * Registers a resource to close when the command ends, fails or is interrupted (a second
   * Ctrl-C closes everything at once and exits). Returns the resource.
   */
  own<T extends Closable>(resource: T): T;
  /** Exit status of the command; 0 unless the command sets it. */
  exitCode: number;
}
