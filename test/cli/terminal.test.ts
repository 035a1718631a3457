/**
 * Output fitted to a real terminal: `load`'s progress line, drawn under a pseudo-terminal 80
 * columns wide (Python's pty module gives it the size), keeps every count on every redraw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { BIN, runCommand } from '../../src/testing/index.js';
import { startServer } from '../load/servers.js';

const PYTHON = '/usr/bin/python3';

/** Runs argv under a pty of `columns` × 24 and returns everything it wrote (stdout and stderr). */
const PTY_SCRIPT = `
import fcntl, os, pty, struct, sys, termios
columns = int(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 24, columns, 0, 0))
out = b''
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
`;

test('load on an 80-column terminal: every progress redraw fits and keeps sent, ok and errors', {
  timeout: 30_000,
  skip: existsSync(PYTHON) ? false : `${PYTHON} is not installed`,
}, async () => {
  // Every tenth request fails (the connection is destroyed): the error count must show.
  const server = await startServer((req, res, n) => (n % 10 === 9 ? req.socket.destroy() : res.end('ok')));
  try {
    const r = await runCommand(
      PYTHON,
      ['-c', PTY_SCRIPT, '80', process.execPath, BIN, 'load', server.url, '-r', '2000', '-d', '3s', '-c', '20'],
      { timeoutMs: 25_000 },
    );
    assert.equal(r.code, 0, r.stdout);
    // Redraws are `\r<line>\x1b[K`; the report follows on its own lines.
    const redraws = r.stdout
      .split('\r')
      .map((part) => part.replace(/\x1b\[K$/, ''))
      .filter((part) => /^\S.*errors? \d+$/.test(part) && !part.includes('\n'));
    assert.ok(
      redraws.length >= 5,
      `progress was drawn (${redraws.length} redraws):\n${JSON.stringify(r.stdout.slice(0, 2000))}`,
    );
    for (const line of redraws) {
      assert.ok([...line].length <= 79, `${[...line].length} columns: ${line}`);
      assert.match(line, /sent \d+ .*ok \d+ .*err(ors)? \d+$/, line);
    }
    assert.ok(
      redraws.some((line) => /err(ors)? [1-9]\d*$/.test(line)),
      'a non-zero error count was shown',
    );
    assert.match(r.stdout, /(?:^|\x1b\[K)Requests\s+\[total, rate, throughput\]\s+6000, /m);
  } finally {
    await server.close();
  }
});
