/**
 * `npm run bench [-- part…]`: runs each part's benchmark module in turn (all when none is named).
 * A module is `bench/<part>.ts` exporting `run(): Promise<void>` that prints its ratios.
 */
const BENCHES: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  proxy: () => import('./proxy.js'),
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in BENCHES));
if (unknown.length > 0) {
  console.error(`unknown bench ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}
for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHES)) {
  const bench = await BENCHES[name]!();
  await bench.run();
}
