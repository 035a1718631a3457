import { open, stat, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import { sleep } from '../util/index.js';
import { LineSplitter } from './lines.js';

/** Options of {@link tailFile}. */
export interface TailOptions {
  /** How often the file is checked for new data, rotation and truncation, ms. Default 50. */
  pollMs?: number;
  /** Read chunk, bytes. Default 256 KiB. */
  chunkBytes?: number;
  /** Longest line kept (longer lines are cut). Default 16 KiB. */
  maxLineChars?: number;
  /** Start at the beginning instead of the end (tail -n +1). Default false: only new lines. */
  fromStart?: boolean;
  signal?: AbortSignal;
  /** Rotation, truncation, a file that appears or goes. */
  onNotice?: (notice: string) => void;
  /** Called once the file is open (or known missing) and every later line will be seen. */
  onReady?: () => void;
}

/** Why an existing file cannot be followed, as the user's error. */
function openError(path: string, err: unknown): BadgatewayError {
  const code = errnoCode(err);
  if (code === 'EACCES' || code === 'EPERM')
    return new BadgatewayError(ERROR_CODES.PERMISSION, `cannot read ${path}: permission denied`, { cause: err });
  if (code === 'EISDIR')
    return new BadgatewayError(ERROR_CODES.UNREADABLE, `cannot read ${path}: is a directory`, { cause: err });
  return new BadgatewayError(ERROR_CODES.UNREADABLE, `cannot read ${path}: ${code ?? String(err)}`, { cause: err });
}

/**
 * Follows a file like `tail -F`: from its end (or start), by name, through rotation (the name
 * points at a new inode: the old file is read to its end, then the new one from its start) and
 * truncation (the size drops below the read position: read again from 0), waiting while the file
 * does not exist. Resolves when `signal` aborts. Throws `BG_PERMISSION` / `BG_UNREADABLE` when the
 * file exists and cannot be opened.
 */
export async function tailFile(path: string, onLine: (line: string) => void, options: TailOptions = {}): Promise<void> {
  const pollMs = options.pollMs ?? 50;
  const chunk = Buffer.alloc(options.chunkBytes ?? 256 * 1024);
  const splitter = new LineSplitter((line) => onLine(line), options.maxLineChars ?? 16 * 1024);
  let decoder = new StringDecoder('utf8');
  let handle: FileHandle | undefined;
  let ino = -1;
  let position = 0;
  /** The name is gone; the old file is still read. */
  let gone = false;
  const notice = (text: string): void => options.onNotice?.(text);
  const drain = async (): Promise<void> => {
    if (!handle) return;
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      splitter.push(decoder.write(chunk.subarray(0, bytesRead)));
      if (options.signal?.aborted) return;
    }
  };
  const openCurrent = async (fromStart: boolean): Promise<boolean> => {
    try {
      const h = await open(path, 'r');
      const info = await h.stat();
      handle = h;
      ino = info.ino;
      position = fromStart ? 0 : info.size;
      decoder = new StringDecoder('utf8');
      return true;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw openError(path, err);
    }
  };
  try {
    if (!(await openCurrent(options.fromStart ?? false))) notice(`${path} does not exist yet: waiting for it`);
    options.onReady?.();
    while (!options.signal?.aborted) {
      if (!handle) {
        // A file that appears after the start is new: all of it.
        if (await openCurrent(true)) notice(`${path} appeared`);
      } else {
        await drain();
        const now = await stat(path).catch(() => undefined);
        if (now === undefined) {
          // Renamed or removed: the writer may still append to it until it reopens the name
          // (nginx does at USR1), so keep reading it until a new file appears there.
          if (!gone) notice(`${path} was removed or renamed: reading it on until a new file appears`);
          gone = true;
          await sleep(pollMs, options.signal).catch(() => undefined);
          continue;
        }
        if (now.ino !== ino) {
          // Rotated: finish the old file, then follow the name from the new file's start.
          await drain();
          await handle.close();
          handle = undefined;
          gone = false;
          notice(`${path} was rotated: reading the new file from its start`);
          await openCurrent(true);
          continue;
        }
        if (now.size < position) {
          notice(`${path} was truncated: reading it again from its start`);
          position = 0;
          decoder = new StringDecoder('utf8');
          continue;
        }
      }
      await sleep(pollMs, options.signal).catch(() => undefined);
    }
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
