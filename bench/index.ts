/**
 * `npm run bench [-- name…]`: runs each benchmark module in turn (or only the named ones). Every
 * module exports `run()` and prints ratios against a peer measured in the same run.
 */
const BENCHES: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  load: () => import('./load.js'),
};

const only = process.argv.slice(2);
const unknown = only.filter((name) => !(name in BENCHES));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}\n`);
  process.exit(2);
}
for (const [name, load] of Object.entries(BENCHES)) {
  if (only.length > 0 && !only.includes(name)) continue;
  process.stdout.write(`\n## bench: ${name}\n`);
  await (await load()).run();
}
