/**
 * One error class for everything badgateway reports to a user. Library code throws it with a
 * stable `code`; only the CLI turns a code into a one-line message and an exit status
 * (see {@link exitCodeFor}).
 */

/** Stable error codes. Never rename one: scripts and tests match on them. */
export const ERROR_CODES = {
  /** An option or argument has a bad value (names the option and the value). */
  BAD_OPTION: 'BG_BAD_OPTION',
  /** Unknown command or option, missing argument. */
  USAGE: 'BG_USAGE',
  /** No process with that pid. */
  NO_SUCH_PID: 'BG_NO_SUCH_PID',
  /** The process or file exists but cannot be read (permissions). */
  PERMISSION: 'BG_PERMISSION',
  /** A file cannot be read (missing, a directory, I/O error). */
  UNREADABLE: 'BG_UNREADABLE',
  /** The address (port or unix socket) is already in use. */
  ADDRESS_IN_USE: 'BG_ADDRESS_IN_USE',
  /** A unix socket path cannot be created (missing or unwritable directory, too long). */
  BAD_SOCKET_PATH: 'BG_BAD_SOCKET_PATH',
  /** A unix socket to connect to does not exist. */
  NO_SUCH_SOCKET: 'BG_NO_SUCH_SOCKET',
  /** nginx is not installed. */
  NO_NGINX: 'BG_NO_NGINX',
  /** nginx rejected its configuration or did not start. */
  NGINX_FAILED: 'BG_NGINX_FAILED',
  /** HAProxy or Caddy rejected its configuration or did not start. */
  PROXY_FAILED: 'BG_PROXY_FAILED',
  /** A log's lines are in none of the formats badgateway reads. */
  UNKNOWN_FORMAT: 'BG_UNKNOWN_FORMAT',
  /** `prlimit` (util-linux) is missing, needed for --fd-limit. */
  NO_PRLIMIT: 'BG_NO_PRLIMIT',
  /** A required external program (ss, python3, gunicorn …) is missing. */
  MISSING_TOOL: 'BG_MISSING_TOOL',
  /** A facility only Linux has (/proc) is absent. */
  UNSUPPORTED_PLATFORM: 'BG_UNSUPPORTED_PLATFORM',
  /** A child process (upstream, proxy) did not start or died early. */
  CHILD_FAILED: 'BG_CHILD_FAILED',
  /** Something waited too long (a server that never started answering). */
  TIMEOUT: 'BG_TIMEOUT',
  /** The run was interrupted (SIGINT/SIGTERM). */
  INTERRUPTED: 'BG_INTERRUPTED',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export interface BadgatewayErrorOptions {
  cause?: unknown;
  /** One short sentence telling the user what to do about it. */
  hint?: string;
}

export class BadgatewayError extends Error {
  override readonly name = 'BadgatewayError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: BadgatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }
}

export function isBadgatewayError(err: unknown, code?: ErrorCode): err is BadgatewayError {
  return err instanceof BadgatewayError && (code === undefined || err.code === code);
}

/** Exit status for a run that ended in this error; the only place codes meet exit statuses. */
export function exitCodeFor(err: unknown): number {
  if (!(err instanceof BadgatewayError)) return 70; // EX_SOFTWARE: a bug of ours
  switch (err.code) {
    case ERROR_CODES.INTERRUPTED:
      return 130;
    default:
      // Every user or environment mistake: bad input, missing tool, unreadable target.
      return 2;
  }
}

/** Helper for option validation: `BG_BAD_OPTION` naming the option and the value. */
export function badOption(option: string, value: unknown, expected: string): BadgatewayError {
  return new BadgatewayError(
    ERROR_CODES.BAD_OPTION,
    `${option}: ${JSON.stringify(value)} is not valid (expected ${expected})`,
  );
}

/** Node's errno code of an unknown error, if any (`ENOENT`, `EACCES` …). */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
