/**
 * `npm run bench [-- name…]`: runs each benchmark module in turn (or only the named ones). Each
 * module exports `run()` and prints its ratios against a peer measured in the same run.
 */
const BENCHES: Record<string, () => Promise<{ run: () => Promise<void> }>> = {
  guard: () => import('./guard.js'),
};

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!(name in BENCHES)) {
    console.error(`bench: unknown benchmark ${JSON.stringify(name)} (known: ${Object.keys(BENCHES).join(', ')})`);
    process.exit(2);
  }
}
for (const [name, load] of Object.entries(BENCHES)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  console.log(`\n== ${name} ==`);
  await (await load()).run();
}
