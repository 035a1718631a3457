import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { BadgatewayError, ERROR_CODES, exitCodeFor } from '../errors/index.js';
import { createCloser, debug } from '../util/index.js';
import { COMMANDS } from './commands/index.js';
import type { CliContext } from './context.js';

export interface MainIO {
  stdout?: CliContext['stdout'];
  stderr?: CliContext['stderr'];
  /** Install SIGINT/SIGTERM handlers (off for in-process tests). */
  handleSignals?: boolean;
}

const USAGE_EXIT = 2;

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the badgateway CLI with `argv` (without node and script) and resolves to the exit status. */
export async function main(argv: readonly string[], io: MainIO = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const controller = new AbortController();
  const resources = createCloser('cli');

  const ctx: CliContext = {
    stdout,
    stderr,
    signal: controller.signal,
    own: (resource) => resources.add(resource),
    exitCode: 0,
  };

  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts += 1;
    if (interrupts === 1) {
      controller.abort(new BadgatewayError(ERROR_CODES.INTERRUPTED, `interrupted by ${signal}`));
      return;
    }
    // Second signal: the user means it. Close what we own, then leave.
    stderr.write(`badgateway: ${signal} again, stopping now\n`);
    void resources.close().finally(() => process.exit(130));
  };
  if (io.handleSignals !== false) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; commander already printed its one-line error otherwise.
      return err.exitCode === 0 ? 0 : USAGE_EXIT;
    }
    stderr.write(formatError(err));
    return exitCodeFor(err);
  } finally {
    await resources.close();
    if (io.handleSignals !== false) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}

/** One line (plus an optional hint line) for a failed run; stacks only under NODE_DEBUG. */
export function formatError(err: unknown): string {
  if (err instanceof BadgatewayError) {
    debug('%s', err.stack);
    return `badgateway: ${err.message}\n${err.hint ? `  hint: ${err.hint}\n` : ''}`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return `badgateway: internal error: ${message.split('\n')[0]}\n  hint: run with NODE_DEBUG=badgateway for details and report it\n${
    process.env['NODE_DEBUG']?.includes('badgateway') && err instanceof Error ? `${err.stack}\n` : ''
  }`;
}

function buildProgram(ctx: CliContext): Command {
  const program = new Command('badgateway')
    .description('Reproduce, diagnose and prevent the 502/504 errors a reverse proxy returns when the app behind it fails.')
    .version(packageVersion(), '-V, --version')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      outputError: (s, write) => write(s.replace(/^error: /, 'badgateway: ')),
    })
    .exitOverride()
    .enablePositionalOptions();
  for (const register of COMMANDS) register(program, ctx);
  // Subcommands inherit the error handling and output of the program.
  for (const command of program.commands) {
    command.exitOverride().configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      outputError: (s, write) => write(s.replace(/^error: /, `badgateway ${command.name()}: `)),
    });
  }
  return program;
}
