import { debuglog } from 'node:util';

/** `NODE_DEBUG=badgateway` turns this on; a no-op otherwise. */
export const debug = debuglog('badgateway');
