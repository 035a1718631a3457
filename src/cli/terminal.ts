/**
 * The width output is fitted to: the terminal's columns (or `COLUMNS` when the terminal does not
 * say), and no limit when the stream is not a terminal, so a pipe or a file gets the full table.
 */
export function terminalColumns(
  stream: { isTTY?: boolean; columns?: number },
  env: NodeJS.ProcessEnv = process.env,
): number {
  if (stream.isTTY !== true) return Number.POSITIVE_INFINITY;
  if (typeof stream.columns === 'number' && stream.columns > 0) return stream.columns;
  const fromEnv = Number(env['COLUMNS']);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 80;
}
