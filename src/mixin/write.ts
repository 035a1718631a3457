import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BadgatewayError, ERROR_CODES, errnoCode } from '../errors/index.js';
import type { MixinFile } from './render.js';

/** Writes the files under `dir` (created as needed); returns their paths. Throws BG_UNREADABLE naming a path it cannot write. */
export async function writeMixinFiles(dir: string, files: readonly MixinFile[]): Promise<string[]> {
  const written: string[] = [];
  for (const file of files) {
    const path = join(dir, file.path);
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, file.content);
    } catch (err) {
      throw new BadgatewayError(
        ERROR_CODES.UNREADABLE,
        `--out: cannot write ${path} (${errnoCode(err) ?? String(err)})`,
        { cause: err },
      );
    }
    written.push(path);
  }
  return written;
}
