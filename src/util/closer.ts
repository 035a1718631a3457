import { debug } from './debug.js';

/** Something to stop at the end: a child process, a server, a temp dir. */
export interface Closable {
  close(): Promise<unknown> | unknown;
}

/**
 * Resources closed together, newest first (what started last may depend on what started
 * before it: a proxy on its upstream, both on a temp dir). One that fails to close is logged
 * and the others are still closed: cleanup never stops half way.
 */
export interface Closer {
  /** Registers `resource`; returns it, so `const app = closer.add(await start())` reads in order. */
  add<T extends Closable>(resource: T): T;
  /** Forgets `resource` (closed by its owner already). */
  delete(resource: Closable): void;
  /** Closes every registered resource once, newest first, and forgets them; resolves when all are done. */
  close(): Promise<void>;
  /** Resources registered and not closed yet. */
  readonly size: number;
}

/** Creates a {@link Closer}; `label` names it in the debug log of a failed close. */
export function createCloser(label = 'cleanup'): Closer {
  const open: Closable[] = [];
  return {
    add(resource) {
      open.push(resource);
      return resource;
    },
    delete(resource) {
      const at = open.lastIndexOf(resource);
      if (at >= 0) open.splice(at, 1);
    },
    async close() {
      // Popped before it is awaited: a close() that registers or closes again cannot loop.
      for (let resource = open.pop(); resource !== undefined; resource = open.pop()) {
        try {
          await resource.close();
        } catch (err) {
          debug('%s: close failed: %o', label, err);
        }
      }
    },
    get size() {
      return open.length;
    },
  };
}
