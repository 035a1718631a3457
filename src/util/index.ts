/** Small shared helpers with no domain knowledge: debug logging, temp dirs, waiting, PATH lookup, listening, closing, stopping a child. */
export { debug } from './debug.js';
export { createTempDir, type TempDir } from './temp-dir.js';
export { waitFor, sleep } from './wait.js';
export { which } from './which.js';
export { listen } from './listen.js';
export { createCloser, type Closable, type Closer } from './closer.js';
export { stripUndefined } from './objects.js';
export { isGzipHead, sniffGzipStream } from './gzip-stream.js';
export { stopChild, terminateChild, type StopSteps } from './stop-child.js';
