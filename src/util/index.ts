/** Small shared helpers with no domain knowledge: debug logging, temp dirs, waiting, PATH lookup. */
export { debug } from './debug.js';
export { createTempDir, type TempDir } from './temp-dir.js';
export { waitFor, sleep } from './wait.js';
export { which } from './which.js';
export { isGzipHead, sniffGzipStream } from './gzip-stream.js';
