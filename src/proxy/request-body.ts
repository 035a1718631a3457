import { createReadStream, createWriteStream, rmSync, type ReadStream, type WriteStream } from 'node:fs';

/**
 * A request body read whole before the upstream is contacted (nginx's `proxy_request_buffering
 * on`): in memory up to a limit, then in a temp file. Two things follow, both on purpose:
 * a request whose body turns out bad (an invalid chunk, a client that stalls or leaves) never
 * reaches the upstream at all, and the body goes upstream framed by the exact length read, never
 * by whatever framing the client used.
 */
export class RequestBody {
  /** Bytes read so far. */
  length = 0;
  private chunks: Buffer[] = [];
  private readonly memoryLimit: number;
  private readonly filePath: () => string;
  private file: WriteStream | undefined;
  private path: string | undefined;

  /** `filePath` names the temp file, asked for only when the body outgrows `memoryLimit`. */
  constructor(memoryLimit: number, filePath: () => string) {
    this.memoryLimit = memoryLimit;
    this.filePath = filePath;
  }

  /** The temp file's path once the body spilled to disk (nginx logs it at `warn`). */
  get spilledTo(): string | undefined {
    return this.path;
  }

  /**
   * Adds a piece; false when the file's buffer is full: stop reading until `onDrain` is called.
   * The first piece past the memory limit opens the file and moves what was in memory there.
   */
  append(chunk: Buffer, onDrain: () => void): boolean {
    this.length += chunk.length;
    if (this.file === undefined && this.length <= this.memoryLimit) {
      this.chunks.push(chunk);
      return true;
    }
    if (this.file === undefined) {
      this.path = this.filePath();
      this.file = createWriteStream(this.path, { flags: 'wx', mode: 0o600 });
      for (const held of this.chunks) this.file.write(held);
      this.chunks = [];
    }
    if (this.file.write(chunk)) return true;
    this.file.once('drain', onDrain);
    return false;
  }

  /** All of it is read: resolves once a temp file is on disk whole. */
  async complete(): Promise<void> {
    const file = this.file;
    if (!file) return;
    await new Promise<void>((resolve, reject) => {
      file.once('error', reject);
      file.end(resolve);
    });
  }

  /**
   * Writes the body with `write` (false = the upstream's buffer is full: wait, then call the
   * returned `resume`); `done` runs when all of it is written, `failed` on a read error of the file.
   * Can run again (a retry on another connection sends the body again).
   */
  send(
    write: (chunk: Buffer) => boolean,
    callbacks: { waiting(): void; done(): void; failed(err: Error): void },
  ): { resume(): void; stop(): void } {
    if (this.path === undefined) {
      let blocked = false;
      for (const chunk of this.chunks) if (!write(chunk)) blocked = true;
      // The socket buffers the rest itself; the send timeout runs until it drains.
      if (blocked) callbacks.waiting();
      callbacks.done();
      return { resume: () => {}, stop: () => {} };
    }
    const stream: ReadStream = createReadStream(this.path, { highWaterMark: 64 * 1024 });
    stream.on('data', (chunk) => {
      if (!write(chunk as Buffer)) {
        stream.pause();
        callbacks.waiting();
      }
    });
    stream.on('end', () => callbacks.done());
    stream.on('error', (err) => callbacks.failed(err));
    return { resume: () => stream.resume(), stop: () => stream.destroy() };
  }

  /** Drops the body and its temp file. */
  dispose(): void {
    this.chunks = [];
    this.file?.destroy();
    if (this.path !== undefined) {
      try {
        rmSync(this.path, { force: true });
      } catch {
        /* the proxy's temp dir goes anyway */
      }
    }
  }
}
