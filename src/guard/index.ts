/**
 * badgateway/guard — keeps a Node server from causing 502s (load shedding, keep-alive hardening).
 * Filled in by the guard work; exported now so the package's `exports` map is stable.
 */
export {};
