/** Why a request was shed. Stable strings: they appear in metrics labels and the 503 body. */
export const SHED_REASONS = Object.freeze({
  /** Open fds reached `maxFdRatio` of the soft RLIMIT_NOFILE. */
  FDS: 'fds',
  /** `maxConcurrency` requests were already in flight. */
  CONCURRENCY: 'concurrency',
  /** The event loop was delayed by `maxEventLoopDelayMs` or more. */
  EVENT_LOOP_DELAY: 'eventLoopDelay',
  /** V8 heap used reached `maxHeapUsedRatio` of its limit. */
  HEAP_USED: 'heapUsed',
} as const);

/** One of {@link SHED_REASONS}. */
export type ShedReason = (typeof SHED_REASONS)[keyof typeof SHED_REASONS];

/** Every reason (the label values of the shed counter); the guard's rules table sets the order it checks them in. */
export const SHED_REASON_LIST: readonly ShedReason[] = Object.freeze(Object.values(SHED_REASONS));

/** What a shed request is answered with; adapters write it in their framework's way. */
export interface ShedResponse {
  status: 503;
  headers: Record<string, string>;
  body: string;
}

/**
 * The 503 for `reason`: `Retry-After` so clients and proxies back off, `Connection: close` so the
 * socket (an fd) is released at once instead of idling in keep-alive.
 */
export function createShedResponse(reason: ShedReason, retryAfterS: number): ShedResponse {
  const body = `Service Unavailable (overloaded: ${reason})\n`;
  return {
    status: 503,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'retry-after': String(retryAfterS),
      connection: 'close',
    },
    body,
  };
}
