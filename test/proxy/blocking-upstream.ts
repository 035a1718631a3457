/**
 * Child-process upstream whose event loop can be blocked on demand, so the kernel's accept queue
 * fills exactly as it does behind a sync worker (gunicorn -k sync):
 *   node blocking-upstream.js --child (unix:/path | tcp) BACKLOG BLOCK_MS
 * prints `ready <unix:/path | http://127.0.0.1:PORT>`; each `block` line on stdin prints `blocking`
 * and then spins for BLOCK_MS before the loop accepts anything again. Answers every request 200 `ok`.
 * Without `--child` (e.g. when the test runner loads it as a file under test/) it does nothing.
 */
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

if (process.argv[2] === '--child') {
  const [, , , where = 'tcp', backlogText = '1', blockText = '1000'] = process.argv;
  const backlog = Number(backlogText);
  const blockMs = Number(blockText);
  const server = createServer((req, res) => {
    req.resume();
    res.end('ok');
  });
  const onListening = (): void => {
    const address = server.address();
    const url = typeof address === 'string' ? `unix:${address}` : `http://127.0.0.1:${address?.port}`;
    process.stdout.write(`ready ${url}\n`);
  };
  if (where.startsWith('unix:')) server.listen({ path: where.slice(5), backlog }, onListening);
  else server.listen({ host: '127.0.0.1', port: 0, backlog }, onListening);
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() !== 'block') return;
    // stdout is a pipe: the write is synchronous on Linux, so the parent sees it before we spin.
    process.stdout.write('blocking\n');
    const until = Date.now() + blockMs;
    while (Date.now() < until) {
      /* the point: nothing is accepted while this runs */
    }
    process.stdout.write('unblocked\n');
  });
  process.stdin.on('end', () => server.close(() => process.exit(0)));
}
