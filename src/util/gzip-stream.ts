import type { Readable } from 'node:stream';

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** True when `head` starts with gzip's magic bytes. */
export function isGzipHead(head: Uint8Array | undefined): boolean {
  return head !== undefined && head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
}

/**
 * Peeks at the first chunk of a stream (stdin, a pipe: nothing to seek back to) to tell gzip from
 * plain text by its magic bytes, and hands back every chunk, the peeked one first.
 */
export async function sniffGzipStream(raw: Readable): Promise<{ gzip: boolean; chunks: AsyncIterable<Buffer> }> {
  const iterator = (raw as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const toBuffer = (value: Buffer | string): Buffer => (Buffer.isBuffer(value) ? value : Buffer.from(value));
  let head: Buffer | undefined;
  let done = false;
  // A pipe may deliver a single byte first: gather two before deciding.
  while (!done && (head === undefined || head.length < 2)) {
    const next = await iterator.next();
    if (next.done) done = true;
    else head = head === undefined ? toBuffer(next.value) : Buffer.concat([head, toBuffer(next.value)]);
  }
  const chunks = (async function* () {
    if (head) yield head;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield toBuffer(next.value);
    }
  })();
  return { gzip: isGzipHead(head), chunks };
}
