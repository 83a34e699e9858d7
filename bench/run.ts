// Entry point: `node dist/bench/run.js [<name>] [--quick]` (npm run bench [-- <name> [--quick]]).
// Runs one benchmark, or all of them in turn, printing each table and writing
// bench/results/<name>.{json,md,svg} (<name>-quick.* for --quick). To add a benchmark, write a module that
// exports a `Benchmark` and add it to the registry below.
import '../node/common/polyfill.js';
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Benchmark } from './lib/bench.js';
import { consoleTable, writeResults, type BenchReport } from './lib/report.js';
import { dirty } from './dirty.js';
import { migrate } from './migrate.js';
import { returnTrip } from './return.js';
import { transport } from './transport.js';
import { store } from './store.js';
import { screen } from './screen.js';

/** Every benchmark, by the name given on the command line. */
export const registry: Record<string, Benchmark> = {
  [dirty.name]: dirty,
  [migrate.name]: migrate,
  [returnTrip.name]: returnTrip,
  [transport.name]: transport,
  [store.name]: store,
  [screen.name]: screen,
};

/** The checkout's bench/ folder (results go to bench/results even when run from a dist folder). */
function benchDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench'))) return join(dir, 'bench');
    const up = dirname(dir);
    if (up === dir) return resolve('bench');
    dir = up;
  }
}

function usage(): string {
  const names = Object.values(registry).map((b) => `  ${b.name.padEnd(10)} ${b.description}`).join('\n');
  return `usage: npm run bench [-- <name> [--quick]]\n\nbenchmarks:\n${names}\n\n--quick  fewer sizes and runs (a few minutes)`;
}

export async function main(argv: string[]): Promise<number> {
  const quick = argv.includes('--quick');
  const unknownFlags = argv.filter((a) => a.startsWith('-') && a !== '--quick');
  const names = argv.filter((a) => !a.startsWith('-'));
  if (argv.includes('--help') || argv.includes('-h')) { console.log(usage()); return 0; }
  if (unknownFlags.length) { console.error(`bench: unknown option ${unknownFlags.join(', ')}\n\n${usage()}`); return 2; }
  const unknown = names.filter((n) => !(n in registry));
  if (unknown.length) { console.error(`bench: no benchmark named ${unknown.join(', ')}\n\n${usage()}`); return 2; }
  const chosen = names.length ? names.map((n) => registry[n]!) : Object.values(registry);
  const dir = benchDir();
  const results = join(dir, 'results');
  let failed = 0;
  for (const b of chosen) {
    const t0 = Date.now();
    console.error(`bench ${b.name}${quick ? ' --quick' : ''}: ${b.description}`);
    const log = (m: string) => console.error(`  [${b.name}] ${m}`);
    const checkpoint = (partial: BenchReport) => log(`partial results (${partial.partial ?? 'in progress'}): ${writeResults(partial, results).join(', ')}`);
    const report = await b.run({ quick, scratchDir: join(results, 'tmp'), log, checkpoint });
    console.log(`\n${report.title}${quick ? ' (--quick)' : ''}\n`);
    console.log(consoleTable(report));
    const paths = writeResults(report, results);
    console.log(`\nwrote ${paths.join(', ')} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    if (report.rows.some((r) => r.roam.failures.length || ('failures' in r.baseline && r.baseline.failures.length))) failed++;
  }
  if (failed) console.error(`bench: ${failed} benchmark(s) had failed runs (see their rows)`);
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e: unknown) => {
  console.error(`bench: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
