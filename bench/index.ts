/**
 * `npm run bench [-- <part> …]`: runs every benchmark module (or the named ones) in turn. Each module
 * is `bench/<part>.ts` exporting `run()`, which prints its figures as ratios against peers measured
 * in the same run.
 */
const BENCHES: Record<string, () => Promise<{ run: () => Promise<void> }>> = {
  proc: () => import('./proc.js'),
  lab: () => import('./lab.js'),
  doctor: () => import('./doctor.js'),
  guard: () => import('./guard.js'),
  load: () => import('./load.js'),
  proxy: () => import('./proxy.js'),
  reaper: () => import('./reaper.js'),
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in BENCHES));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')} (have: ${Object.keys(BENCHES).join(', ')})`);
  process.exit(2);
}
for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHES)) {
  console.log(`== ${name}`);
  const load = BENCHES[name];
  if (load) await (await load()).run();
}
