import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { BadgatewayError, ERROR_CODES, exitCodeFor } from '../errors/index.js';
import { createCloser, debug } from '../util/index.js';
import { COMMANDS } from './commands/index.js';
import { CONVENTION_NOTES, conventionOf, missingRequiredOption } from './options.js';
import type { CliContext } from './context.js';

export interface MainIO {
  stdout?: CliContext['stdout'];
  stderr?: CliContext['stderr'];
  /** Install SIGINT/SIGTERM handlers (off for in-process tests). */
  handleSignals?: boolean;
}

const USAGE_EXIT = 2;

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
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

  const program = createProgram(ctx);
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

/**
 * The whole command tree, as commander defines it: `main` parses argv with it, and the conventions
 * test walks its options (placeholders, parsers, help) against the README's table.
 */
export function createProgram(ctx: CliContext): Command {
  const program = new Command('badgateway')
    .description(
      'reproduce, diagnose and prevent the 502/504 errors a reverse proxy returns when the app behind it fails',
    )
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
  // Runs after commander has rejected unknown options and bad values: those are named first.
  program.hook('preAction', (_program, action) => {
    const missing = missingRequiredOption(action);
    if (missing)
      action.error(`error: required option '${missing.flags}' not specified`, {
        code: 'commander.missingMandatoryOptionValue',
        exitCode: USAGE_EXIT,
      });
  });
  program.addHelpText(
    'after',
    `
Every command takes --json (one object, or NDJSON lines, with a "schema" field) and says its exit
status in its --help: 0 done, 1 what was looked for was found (findings, failed verdicts), 2 bad
input or nothing could be read, 130 interrupted, 70 a bug of badgateway.
${CONVENTION_NOTES.duration}
${CONVENTION_NOTES.size}
${CONVENTION_NOTES.rate}

Examples:
  $ badgateway lab
  $ badgateway doctor --port 8080
  $ badgateway load http://127.0.0.1:8080/ -r 200 -d 10s
  $ badgateway causes`,
  );
  // Subcommands inherit the error handling and output of the program, and state the conventions
  // their options follow.
  for (const command of program.commands) {
    const notes = (['duration', 'size', 'rate'] as const).filter((kind) =>
      command.options.some((o) => !o.hidden && conventionOf(o) === kind),
    );
    if (notes.length > 0) command.addHelpText('after', `\n${notes.map((kind) => CONVENTION_NOTES[kind]).join('\n')}`);
    command.exitOverride().configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      outputError: (s, write) => write(s.replace(/^error: /, `badgateway ${command.name()}: `)),
    });
  }
  return program;
}
