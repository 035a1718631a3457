/**
 * Lines HAProxy 2.6.12 (Debian 12's 2.6.12-1+deb12u4) and Caddy 2.6.2 (Debian 12) wrote when
 * badgateway ran them in front of failing upstreams (test/proxy/external-table.test.ts), by signal
 * id: the examples of PROXY_SIGNALS. Each is a line of test/doctor/fixtures/haproxy.log or
 * caddy.log, whose header says how it was recorded (a test checks both).
 */
export const RECORDED_EXAMPLES: Readonly<Record<string, string>> = {
  'haproxy-SC':
    '127.0.0.1:43648 [30/Nov/2026:22:19:27.940] badgateway upstream/app 0/0/-1/-1/1 503 217 - - SC-- 1/1/0/0/0 0/0 "GET / HTTP/1.1"',
  'haproxy-sC':
    '127.0.0.1:40490 [30/Nov/2026:22:19:32.526] badgateway upstream/app 0/0/-1/-1/301 503 217 - - sC-- 1/1/0/0/0 0/0 "GET / HTTP/1.1"',
  'haproxy-sH':
    '127.0.0.1:35866 [30/Nov/2026:22:19:34.257] badgateway upstream/app 0/0/0/-1/304 504 198 - - sH-- 1/1/0/0/0 0/0 "GET / HTTP/1.1"',
  'haproxy-sD':
    '127.0.0.1:36042 [30/Nov/2026:22:19:35.417] badgateway upstream/app 0/0/0/-1/307 -1 0 - - sD-- 1/1/0/0/0 0/0 "POST / HTTP/1.1"',
  'haproxy-SH':
    '127.0.0.1:48838 [30/Nov/2026:22:19:36.164] badgateway upstream/app 0/0/1/-1/1 502 209 - - SH-- 1/1/0/0/1 0/0 "GET / HTTP/1.1"',
  'haproxy-SD':
    '127.0.0.1:34310 [30/Nov/2026:22:19:36.665] badgateway upstream/app 0/0/0/0/51 200 80 - - SD-- 1/1/0/0/0 0/0 "GET / HTTP/1.1"',
  'caddy-dial-refused':
    '{"level":"error","ts":1796077179.6804752,"logger":"http.log.error","msg":"dial tcp 127.0.0.1:37563: connect: connection refused","request":{"remote_ip":"127.0.0.1","remote_port":"50256","proto":"HTTP/1.1","method":"GET","host":"127.0.0.1:33269","uri":"/","headers":{"Connection":["close"]}},"duration":0.000993092,"status":502,"err_id":"zkg8b3nuw","err_trace":"reverseproxy.statusError (reverseproxy.go:1272)"}',
  'caddy-dial-enoent':
    '{"level":"error","ts":1796077179.9164832,"logger":"http.log.error","msg":"dial unix /tmp/bg-up-2CaRks/app.sock: connect: no such file or directory","request":{"remote_ip":"127.0.0.1","remote_port":"41024","proto":"HTTP/1.1","method":"GET","host":"127.0.0.1:44977","uri":"/","headers":{"Connection":["close"]}},"duration":0.00032012,"status":502,"err_id":"fy7rhxzcf","err_trace":"reverseproxy.statusError (reverseproxy.go:1272)"}',
  'caddy-dial-eagain':
    '{"level":"error","ts":1796077180.5561485,"logger":"http.log.error","msg":"dial unix /tmp/bg-up-YzKiZf/app.sock: connect: resource temporarily unavailable","request":{"remote_ip":"127.0.0.1","remote_port":"50872","proto":"HTTP/1.1","method":"GET","host":"127.0.0.1:33289","uri":"/","headers":{"Connection":["close"]}},"duration":0.000182623,"status":502,"err_id":"fhyeqvfzp","err_trace":"reverseproxy.statusError (reverseproxy.go:1272)"}',
  'caddy-dial-timeout':
    '{"level":"error","ts":1796077182.5981965,"logger":"http.log.error","msg":"dial tcp 127.0.0.1:41859: i/o timeout","request":{"remote_ip":"127.0.0.1","remote_port":"52774","proto":"HTTP/1.1","method":"GET","host":"127.0.0.1:46019","uri":"/","headers":{"Connection":["close"]}},"duration":0.30123701,"status":502,"err_id":"dx2qmraqv","err_trace":"reverseproxy.statusError (reverseproxy.go:1272)"}',
  'caddy-header-timeout':
    '{"level":"error","ts":1796077184.1001053,"logger":"http.log.error","msg":"net/http: timeout awaiting response headers","request":{"remote_ip":"127.0.0.1","remote_port":"40296","proto":"HTTP/1.1","method":"GET","host":"127.0.0.1:43243","uri":"/","headers":{"Connection":["close"]}},"duration":0.304828784,"status":504,"err_id":"24fy4vsn7","err_trace":"reverseproxy.statusError (reverseproxy.go:1272)"}',
  'caddy-write-timeout':
    '{"level":"error","ts":1796077184.8186173,"logger":"http.log.error","msg":"readfrom tcp 127.0.0.1:46554->127.0.0.1:35317: write tcp 127.0.0.1:46554->127.0.0.1:35317: i/o timeout","request":{"remote_ip":"127.0.0.1","remote_port":"47364","proto":"HTTP/1.1","method":"POST","host":"127.0.0.1:44947","uri":"/","headers":{"Content-Length":["33554432"],"Connection":["close"]}},"duration":0.301788914,"status":504,"err_id":"b3hr2fi9n","err_trace":"reverseproxy.statusError (reverseproxy.go:1272)"}',
  'caddy-reset':
    '{"level":"error","ts":1796077185.122444,"logger":"http.log.error","msg":"read tcp 127.0.0.1:42320->127.0.0.1:34049: read: connection reset by peer","request":{"remote_ip":"127.0.0.1","remote_port":"40868","proto":"HTTP/1.1","method":"GET","host":"127.0.0.1:41603","uri":"/","headers":{"Connection":["close"]}},"duration":0.001199149,"status":502,"err_id":"260917q3v","err_trace":"reverseproxy.statusError (reverseproxy.go:1272)"}',
  'caddy-body-abort':
    '{"level":"error","ts":1796077185.4652002,"logger":"http.handlers.reverse_proxy","msg":"aborting with incomplete response","error":"read tcp 127.0.0.1:39046->127.0.0.1:36365: read: connection reset by peer"}',
  'caddy-eof':
    '{"level":"error","ts":1796077185.8083704,"logger":"http.log.error","msg":"EOF","request":{"remote_ip":"127.0.0.1","remote_port":"40970","proto":"HTTP/1.1","method":"GET","host":"127.0.0.1:34145","uri":"/","headers":{"Connection":["close"]}},"duration":0.001623294,"status":502,"err_id":"y5d38z0c1","err_trace":"reverseproxy.statusError (reverseproxy.go:1272)"}',
};
