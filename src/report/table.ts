/** A column of a plain-text table. */
export interface TableColumn<Row> {
  header: string;
  /** The cell text (one line; newlines are replaced by spaces). */
  cell(row: Row): string;
  align?: 'left' | 'right';
  /** Wraps the padded cell for a terminal (colour); never changes its width. */
  style?(text: string, row: Row): string;
  /** Cells longer than this are cut, ending in `…` (only for text that is not a count). */
  maxWidth?: number;
}

/** Column gap, in spaces. */
const GAP = '  ';

/**
 * Renders rows as a plain-text table with aligned columns: a header line, then one line per row.
 * Widths count UTF-16 code units of the unstyled text, so styling (ANSI colour) never shifts columns.
 */
export function renderTable<Row>(columns: readonly TableColumn<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((c) => cut(c.cell(row).replace(/\s*\n\s*/g, ' '), c.maxWidth)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => (r[i] ?? '').length)));
  const pad = (text: string, i: number): string => {
    const width = widths[i] ?? 0;
    return columns[i]?.align === 'right' ? text.padStart(width) : text.padEnd(width);
  };
  const lines = [
    columns
      .map((c, i) => pad(c.header, i))
      .join(GAP)
      .trimEnd(),
  ];
  rows.forEach((row, r) => {
    const line = columns
      .map((c, i) => {
        const padded = pad(cells[r]?.[i] ?? '', i);
        return c.style ? c.style(padded, row) : padded;
      })
      .join(GAP);
    lines.push(line.trimEnd());
  });
  return `${lines.join('\n')}\n`;
}

const cut = (text: string, maxWidth: number | undefined): string =>
  maxWidth !== undefined && text.length > maxWidth ? `${text.slice(0, Math.max(0, maxWidth - 1))}…` : text;

/** Width of each column of {@link renderTable}'s output (the header or the longest cell). */
export function tableWidths<Row>(columns: readonly TableColumn<Row>[], rows: readonly Row[]): number[] {
  return columns.map((c) =>
    Math.max(c.header.length, ...rows.map((row) => cut(c.cell(row).replace(/\s*\n\s*/g, ' '), c.maxWidth).length)),
  );
}

/** Width of the widest line {@link renderTable} prints. */
export function tableWidth<Row>(columns: readonly TableColumn<Row>[], rows: readonly Row[]): number {
  return tableWidths(columns, rows).reduce((sum, w) => sum + w, 0) + GAP.length * Math.max(0, columns.length - 1);
}

/** ANSI colours for a terminal; identity functions when off (pipes, files, NO_COLOR). */
export interface Colors {
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const wrap = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;

/** Colours on, or identity functions when `enabled` is false. */
export function createColors(enabled: boolean): Colors {
  if (!enabled) {
    const id = (text: string): string => text;
    return { green: id, red: id, yellow: id, dim: id, bold: id };
  }
  return { green: wrap(32, 39), red: wrap(31, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}

/** Colour only for a TTY, and never with NO_COLOR set (https://no-color.org). */
export function shouldColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && (env['NO_COLOR'] ?? '') === '' && env['TERM'] !== 'dumb';
}
