import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt } from './build.js';
import { benchSizes, formatHeader, writeResults } from './harness.js';

/*
 * Runs berth's benchmarks: `npm run bench [-- --quick] [-- objects locks cli plan terraform]`.
 *   objects          object store vs raw better-sqlite3 (bench/objects.ts)
 *   locks            workspace lock cycles vs raw and vs lock-file + state-file backends
 *   cli              cold start of `node dist/bin/berth.js ps -a` (the bundled bin) vs a
 *                    bare-node floor, and the files it loads
 *   plan             loadManifest, plan, apply and no-change plan of 10,000 objects
 *   listing          `berth ps` from the command line on 10,000 and 100,000 containers
 *                    against `node -e 0`: JSON listing, a filtered listing, memory
 *   backends         objects and lock cycles on SQLite and PostgreSQL side by side (local
 *                    socket, else 127.0.0.1; BENCH_PG_URL overrides)
 *   terraform        a state of 10,000 terraform_data resources POSTed to and read from
 *                    berth serve's Terraform backend vs the same bytes as a file
 *   docker-clients   `docker ps -a` and `podman --url … ps -a` through berth serve on 10,000
 *                    containers vs `berth ps -a` on the same store (clients missing here are skipped)
 *   --quick          objects: stores of 1k and 10k containers only (default: 1k, 10k, 100k);
 *                    the other benches: fewer rounds
 *   --strict         exit 1 when an operation misses its target
 *   BENCH_SIZES      comma-separated store sizes, e.g. BENCH_SIZES=1000,50000
 *   BENCH_DIR        scratch directory for the store files (default: the OS temp dir;
 *                    adds fsync, so it decides which disk is measured)
 *   BENCH_KEEP=1     keep the store files afterwards
 * Every bench measures the built package (dist/, dist/bin), as users run it: `npm run build`
 * runs first when any of it is older than src/ (bench/build.ts), and the benches are loaded
 * only after that.
 * Prints tables to stdout and writes bench/results/<name>.json.
 */

const print = (t: string): void => console.log(t);

/** Each bench, loaded on demand: its modules import dist/, which must be built first. */
const BENCHES = {
  objects: async (sizes: number[], dataDir: string, quick: boolean) =>
    (await import('./objects.js')).runObjectsBench({ sizes, dataDir, quick, print, formatHeader }),
  locks: async (_sizes: number[], dataDir: string, quick: boolean) =>
    (await import('./locks.js')).runLocksBench({ dataDir, quick, print, formatHeader }),
  cli: async (_sizes: number[], dataDir: string, quick: boolean) =>
    (await import('./cli-start.js')).runCliBench({ dataDir, quick, print, formatHeader }),
  plan: async (_sizes: number[], dataDir: string, quick: boolean) =>
    (await import('./plan.js')).runPlanBench({ dataDir, quick, print, formatHeader }),
  events: async (_sizes: number[], dataDir: string, quick: boolean) =>
    (await import('./events.js')).runEventsBench({ dataDir, quick, print, formatHeader }),
  backends: async (_sizes: number[], dataDir: string, quick: boolean) =>
    (await import('./backends.js')).runBackendsBench({ dataDir, quick, print, formatHeader }),
  listing: async (_sizes: number[], dataDir: string, quick: boolean) =>
    (await import('./listing.js')).runListingBench({ dataDir, quick, print, formatHeader }),
  terraform: async (_sizes: number[], dataDir: string, quick: boolean) =>
    (await import('./terraform.js')).runTerraformBench({ dataDir, quick, print, formatHeader }),
  'docker-clients': async (_sizes: number[], dataDir: string, quick: boolean) =>
    (await import('./docker-clients.js')).runDockerClientsBench({ dataDir, quick, print, formatHeader }),
} as const;
type BenchName = keyof typeof BENCHES;

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const unknown = argv.filter((a) => a.startsWith('--') && !['--quick', '--strict'].includes(a));
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(', ')}; use --quick or --strict`);
  const wanted = argv.filter((a) => !a.startsWith('--'));
  for (const name of wanted) {
    if (!(name in BENCHES)) throw new Error(`no bench named ${name}; choose from ${Object.keys(BENCHES).join(', ')}`);
  }
  const names = (wanted.length > 0 ? wanted : Object.keys(BENCHES)) as BenchName[];
  const quick = argv.includes('--quick');
  const sizes = benchSizes(argv, process.env);
  console.log(`build: ${ensureBuilt(print)}`);
  const root = process.env.BENCH_DIR ?? tmpdir();
  const dataDir = mkdtempSync(join(root, 'berth-bench-'));
  const started = performance.now();
  let misses = 0;
  try {
    for (const name of names) {
      const report = await BENCHES[name](sizes, dataDir, quick);
      misses += report.misses.length;
      console.log(`\nwrote ${writeResults(name, report)}`);
    }
  } finally {
    if (process.env.BENCH_KEEP === '1') console.log(`store files kept in ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(
    `total ${((performance.now() - started) / 1000).toFixed(1)}s, load at the end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  return argv.includes('--strict') && misses > 0 ? 1 : 0;
}

process.exitCode = await main();
