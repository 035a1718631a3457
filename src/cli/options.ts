import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import type { CliContext } from './context.js';

/**
 * The CLI's conventions in one place (README "Conventions"; test/cli/conventions.test.ts walks
 * every command's options against them): parsers for commander's `.argParser()` that throw
 * commander's `InvalidArgumentError` (one line naming the option and the value, exit 2), and the
 * Option factories that give every duration, size, rate and `--json` option of every command the
 * same grammar, placeholder and help text.
 */

/** Longest duration any option takes: Node's timer maximum (about 24.8 days). */
export const MAX_DURATION_MS = 2_147_483_647;

/** The placeholder of every duration option; the conventions test finds them by it. */
export const DURATION_PLACEHOLDER = '<duration>';
export const SIZE_PLACEHOLDER = '<size>';
export const RATE_PLACEHOLDER = '<rate>';

/** Which convention an option follows, read from its placeholder (`<duration>`, `[duration]`, `<size>`, `<rate>`). */
export function conventionOf(option: Option): 'duration' | 'size' | 'rate' | undefined {
  const m = /[<[](duration|size|rate)[>\]]/.exec(option.flags);
  return m ? (m[1] as 'duration' | 'size' | 'rate') : undefined;
}

/** The rules as `--help` states them (appended to the help of each command that has such options). */
export const CONVENTION_NOTES = {
  duration:
    'Durations: a bare number is seconds (1.5 = 1.5 s); units ms, s, m, h, combined as in Go and k6 (250ms, 1m30s, 2h).',
  size: 'Sizes: a bare number is bytes; k, m, g are KiB, MiB, GiB as in nginx (512k, 10m).',
  rate: 'Rates: requests per second (200), or per any duration as in vegeta (6000/1m, 50/100ms).',
} as const;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * `"1.5"` (a bare number is seconds), `"250ms"`, `"10s"`, `"1m30s"`, `"2h"`, `"1h2m3.5s"`.
 * Returns milliseconds (fractions kept), or NaN when the text is not a duration.
 */
export function parseDurationMs(value: string): number {
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text) * 1000;
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/.test(text)) return Number.NaN;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g))
    total += Number(n) * (UNIT_MS[unit!] ?? Number.NaN);
  return total;
}

/** Renders ms the way the parser reads them back: `250ms`, `10s`, `1m30s`, `2h`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  if (ms % 1000 !== 0) return `${ms}ms`;
  let s = ms / 1000;
  let out = '';
  for (const [unit, size] of [
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (s >= size) {
      out += `${Math.floor(s / size)}${unit}`;
      s %= size;
    }
  }
  return s > 0 || out === '' ? `${out}${s}s` : out;
}

/** Commander parser for a duration; `allowZero` for options where 0 means off. Returns whole ms. */
export function parseDurationArg({ allowZero = false }: { allowZero?: boolean } = {}) {
  return (value: string): number => {
    const ms = parseDurationMs(value);
    const rounded = Math.round(ms);
    if (!Number.isFinite(ms) || (rounded === 0 && !(allowZero && ms === 0)) || rounded > MAX_DURATION_MS) {
      throw new InvalidArgumentError(
        `expected a duration: seconds (1.5) or with units (250ms, 10s, 1m30s)${allowZero ? ', 0 = off' : ', at least 1ms'}, at most ${formatDuration(MAX_DURATION_MS - (MAX_DURATION_MS % 1000))}.`,
      );
    }
    return rounded;
  };
}

/** A duration option: `<duration>` placeholder, the one grammar, the default shown as a duration. */
export function durationOption(
  flags: string,
  description: string,
  defaultMs?: number,
  { allowZero = false }: { allowZero?: boolean } = {},
): Option {
  const option = new Option(flags, description).argParser(parseDurationArg({ allowZero }));
  return defaultMs === undefined ? option : option.default(defaultMs, formatDuration(defaultMs));
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
};

/** `"1024"` (bytes), `"512k"`, `"10m"`, `"1g"`, `"10MiB"`: bytes, 1024-based as nginx reads sizes; NaN when not a size. */
export function parseSizeBytes(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = SIZE_UNITS[(match?.[2] ?? '?').toLowerCase()];
  if (!match || unit === undefined) return Number.NaN;
  return Math.round(Number(match[1]) * unit);
}

/** A size option (`<size>`): bytes, or k/m/g. */
export function sizeOption(flags: string, description: string, defaultBytes: number): Option {
  return new Option(flags, description)
    .argParser((value: string) => {
      const bytes = parseSizeBytes(value);
      if (!Number.isSafeInteger(bytes))
        throw new InvalidArgumentError('expected a size: bytes (1048576) or with k, m, g (512k, 10m).');
      return bytes;
    })
    .default(defaultBytes);
}

/** `"200"`, `"200/s"`, `"6000/1m"`, `"50/100ms"`: per second; NaN when not a rate. */
export function parseRatePerSecond(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(\S+))?\s*$/.exec(value);
  if (!match) return Number.NaN;
  const per = match[2] === undefined ? 1000 : parseDurationMs(/^\d/.test(match[2]) ? match[2] : `1${match[2]}`);
  return per > 0 ? (Number(match[1]) * 1000) / per : Number.NaN;
}

/** A rate option (`<rate>`): per second, or N/duration. */
export function rateOption(
  flags: string,
  description: string,
  { min = 0, max = Number.POSITIVE_INFINITY, defaultRate }: { min?: number; max?: number; defaultRate?: number } = {},
): Option {
  const option = new Option(flags, description).argParser((value: string) => {
    const rate = parseRatePerSecond(value);
    if (!Number.isFinite(rate) || rate < min || rate > max) {
      throw new InvalidArgumentError(
        `expected a rate: per second (200) or per duration (6000/1m), ${Number.isFinite(max) ? `from ${min} to ${max} a second` : `at least ${min}`}.`,
      );
    }
    return Math.round(rate * 1000) / 1000;
  });
  return defaultRate === undefined ? option : option.default(defaultRate);
}

/** Commander parser for a whole number in `[min, max]`. */
export function parseIntArg(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `expected a whole number, at least ${min}.`
          : `expected a whole number from ${min} to ${max}.`,
      );
    }
    return n;
  };
}

/** Commander parser for a number in `[min, max]` (or above `min` with `exclusiveMin`). */
export function parseNumberArg(min: number, max: number = Number.POSITIVE_INFINITY, { exclusiveMin = false } = {}) {
  return (value: string): number => {
    const n = value.trim() === '' ? Number.NaN : Number(value);
    if (!Number.isFinite(n) || n < min || (exclusiveMin && n === min) || n > max) {
      const lower = exclusiveMin ? `greater than ${min}` : `at least ${min}`;
      throw new InvalidArgumentError(`expected a number ${lower}${Number.isFinite(max) ? ` and at most ${max}` : ''}.`);
    }
    return n;
  };
}

/** Every command's `--json`: the command's output as JSON on stdout, named by its `schema` field. */
export function jsonOption(description: string): Option {
  return new Option('--json', description);
}

/** The `schema` field of a command's JSON output: `badgateway.<name>/v1`. */
export const jsonSchema = (name: string): string => `badgateway.${name}/v1`;

/** The exit statuses, in the same words on every command (README "Conventions"). */
const EXIT = {
  ok: '0 done',
  usage: '2 bad input or nothing could be read (one line on stderr)',
  interrupted: '130 interrupted (Ctrl-C; what was done is still reported)',
  internal: '70 a bug of badgateway (please report it)',
} as const;

const exitLines = (...lines: string[]): string => `Exit status:\n${lines.map((l) => `  ${l}`).join('\n')}`;

/** The `Exit status:` section of each command's help. */
export const EXIT_STATUS = {
  app: exitLines(
    '0 stopped by Ctrl-C or SIGTERM (cleanly: connections closed, socket file removed)',
    EXIT.usage,
    EXIT.internal,
  ),
  causes: exitLines(EXIT.ok.replace('done', 'printed'), EXIT.usage, EXIT.internal),
  doctor: exitLines(
    '0 healthy: every fact doctor looked for was read, and none is a finding',
    '1 findings (or 502/504s in an access log, or upstream errors no pattern knows)',
    '2 bad input or nothing could be read (one line on stderr); or incomplete: no finding, but facts of a target could not be read (never "healthy" over facts doctor did not see)',
    EXIT.interrupted.replace('interrupted', 'interrupted --watch/--follow'),
    EXIT.internal,
  ),
  lab: exitLines('0 every verdict holds', '1 some verdict does not', EXIT.usage, EXIT.interrupted, EXIT.internal),
  load: exitLines(
    '0 the run completed (failed requests are data, not errors)',
    '1 with --fail-on-errors: some request failed or got a status outside 200-399',
    EXIT.usage,
    EXIT.interrupted,
    EXIT.internal,
  ),
  mixin: exitLines('0 the files were written', EXIT.usage, EXIT.internal),
  proxy: exitLines(
    '0 stopped by Ctrl-C or SIGTERM (the proxy stopped, its temp dir removed)',
    EXIT.usage.replace('bad input', 'bad input, a proxy that is missing or refuses its config, a port it may not bind'),
    EXIT.internal,
  ),
  report: exitLines(
    EXIT.ok.replace('done', 'reported'),
    EXIT.usage.replace('bad input', 'bad input, a file with no result record'),
    EXIT.internal,
  ),
} as const;

/** Fails now, not after a long run, when `path` cannot be written (its directory missing or read-only). */
export function checkWritable(option: string, path: string): void {
  if (path === '-') return;
  try {
    accessSync(dirname(resolve(path)), constants.W_OK);
  } catch (err) {
    throw new BadgatewayError(
      ERROR_CODES.BAD_OPTION,
      `${option}: cannot write ${path} (${errnoCode(err) ?? String(err)})`,
    );
  }
}

/**
 * `--unix-socket PATH` of a command that connects to a socket: it must be one. `missingOk` for
 * doctor, where a missing socket file is a finding (nothing listens), not bad input.
 */
export function checkUnixSocket(path: string, { missingOk = false }: { missingOk?: boolean } = {}): void {
  let isSocket: boolean;
  try {
    isSocket = statSync(path).isSocket();
  } catch (err) {
    if (missingOk && errnoCode(err) === 'ENOENT') return;
    throw new BadgatewayError(
      ERROR_CODES.NO_SUCH_SOCKET,
      `--unix-socket: ${path} does not exist (${errnoCode(err) ?? 'error'})`,
      {
        hint: 'start the server first, or check the path',
      },
    );
  }
  if (!isSocket) throw new BadgatewayError(ERROR_CODES.NO_SUCH_SOCKET, `--unix-socket: ${path} is not a socket`);
}

const REQUIRED = new WeakSet<Option>();

/**
 * A mandatory option, checked after commander has rejected unknown options (commander's own
 * `requiredOption` is checked first, so `proxy --bogus` would complain about `--upstream`).
 */
export function requiredOption(option: Option): Option {
  REQUIRED.add(option);
  return option;
}

/** The first mandatory option `command` was not given, if any. */
export function missingRequiredOption(command: Command): Option | undefined {
  return command.options.find((o) => REQUIRED.has(o) && command.getOptionValue(o.attributeName()) === undefined);
}

/** A renamed option's old spelling: hidden from `--help`, still accepted, with one deprecation line. */
export interface DeprecatedAlias {
  /** The old flags, e.g. `--keepalive <n>`. */
  flags: string;
  /** The option that replaces it, e.g. `--upstream-keepalive`. */
  replacement: string;
  /** Attribute name of the replacement (commander's camelCase of its long flag). */
  attribute: string;
  /** Parser of the old spelling's value (the old meaning, e.g. a bare number of ms). */
  parse?: (value: string) => unknown;
}

/**
 * Adds the old spellings of renamed options to `command`: each sets the replacement's value and
 * prints `badgateway CMD: --old is deprecated; use --new` once. Giving both is an error.
 */
export function addDeprecatedAliases(command: Command, ctx: CliContext, aliases: readonly DeprecatedAlias[]): Command {
  for (const alias of aliases) {
    const option = new Option(alias.flags, `deprecated: use ${alias.replacement}`).hideHelp();
    if (alias.parse) option.argParser(alias.parse);
    command.addOption(option);
  }
  command.hook('preAction', (cmd) => {
    for (const alias of aliases) {
      const oldName = new Option(alias.flags).attributeName();
      const value: unknown = cmd.getOptionValue(oldName);
      if (value === undefined) continue;
      const oldFlag = alias.flags.split(/[ ,]/)[0]!;
      if (cmd.getOptionValueSource(alias.attribute) === 'cli') {
        throw new BadgatewayError(
          ERROR_CODES.BAD_OPTION,
          `${oldFlag} and ${alias.replacement} mean the same: give ${alias.replacement} only`,
        );
      }
      ctx.stderr.write(`badgateway ${cmd.name()}: ${oldFlag} is deprecated; use ${alias.replacement}\n`);
      cmd.setOptionValueWithSource(alias.attribute, value, 'cli');
    }
  });
  return command;
}
