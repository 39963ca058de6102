import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from './berth.js';
import { BIN } from './build.js';
import {
  formatMiB,
  formatTable,
  openRawDatabase,
  percentile,
  REPO_ROOT,
  runHeader,
  type Comparison,
  type RunHeader,
} from './harness.js';
import { compareAddsOf, ContainerFixture, createBerthFile, createRawFile, storePragmas, TARGETS } from './objects.js';

/*
 * Listings from the command line (issue 17): `berth ps` is answered from the narrow
 * listing rows, so its time stays near Node's own start and its memory does not grow with
 * the store. Each run is a fresh process of the bundled CLI (dist/bin/berth.js), timed
 * against `node -e 0` in the same run (the sides alternate), and against the raw floor
 * (bench/listing-floor.mjs: the same output from better-sqlite3 alone). For scale: podman
 * 4.3 answers `podman ps -a` on its own 10,000-container store in about 4.6 s (issue 17's
 * figure).
 */

/** The same output with better-sqlite3 alone: the floor under berth's own figures. */
const FLOOR = join(REPO_ROOT, 'bench', 'listing-floor.mjs');
const TIME = '/usr/bin/time';

/** The targets of issue 17. */
export const LISTING_TARGETS = {
  /** `ps -a --format json` on 10,000 containers: at most this many ms over `node -e 0`. */
  json10kOverNodeMs: 120,
  /** A filtered `ps` on 100,000 containers returning at most 100 rows: ms over `node -e 0`. */
  filtered100kOverNodeMs: 100,
  /** `ps -a` (a table) on 100,000 containers: total ms. */
  table100kMs: 1500,
  /** The filtered run's peak RSS on 100,000 containers over that on 10,000 (flat memory). */
  filteredRssGrowth: 1.15,
} as const;

interface Case {
  name: string;
  args: string[];
  /** Lines (or JSON array entries) the output must have, to be sure of the work done. */
  expect: (stdout: string) => void;
}

interface Timing {
  name: string;
  medianMs: number;
  p90Ms: number;
  maxRss: number | null;
}

export interface ListingReport {
  name: 'listing';
  header: RunHeader;
  timings: Timing[];
  targets: typeof LISTING_TARGETS;
  /** Durable adds on 10k stores, each against the raw one-table insert of the same run. */
  adds: { before: Comparison; after: Comparison };
  checks: { what: string; value: string; target: string; pass: boolean }[];
  misses: string[];
}

/**
 * What the listing rows cost a durable add: berth as shipped, and berth with the listing
 * triggers dropped (the write path before the summary rows), each against the raw insert
 * of the objects bench, the three sides taking turns add by add.
 */
async function durableAdds(dir: string, small: string, fixture: ContainerFixture) {
  const copy = (name: string): string => {
    const file = join(dir, name);
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    copyFileSync(small, file);
    return file;
  };
  const beforeFile = copy('adds-before.db');
  const afterFile = copy('adds-after.db');
  const db = openRawDatabase(beforeFile);
  for (const t of db
    .prepare<[], { name: string }>(
      "SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE 'container_summaries_%'",
    )
    .all())
    db.exec(`DROP TRIGGER ${t.name}`);
  db.close();
  const rawFile = join(dir, 'adds-raw.db');
  for (const suffix of ['', '-wal', '-shm']) rmSync(rawFile + suffix, { force: true });
  createRawFile(rawFile, fixture, 10_000);
  const raw = openRawDatabase(rawFile);
  const before = await openStore({ path: beforeFile });
  const after = await openStore({ path: afterFile });
  try {
    // All three sides add each container in turn, in balanced orders: the same disk
    // weather for each.
    return await compareAddsOf({ before, after }, raw, fixture, 20_000);
  } finally {
    await before.close();
    await after.close();
    raw.close();
  }
}

function run(args: readonly string[]): { ms: number; rss: number | null; stdout: string } {
  const useTime = existsSync(TIME);
  const [cmd, argv] = useTime ? [TIME, ['-f', '%M', process.execPath, ...args]] : [process.execPath, [...args]];
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.NODE_OPTIONS;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { env, encoding: 'utf8', maxBuffer: 512 * 2 ** 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited with ${r.status}: ${r.stderr.slice(0, 500)}`);
  const rss = useTime ? Number(/(\d+)\s*$/.exec(r.stderr)?.[1] ?? NaN) * 1024 : null;
  return { ms, rss: rss !== null && Number.isFinite(rss) ? rss : null, stdout: r.stdout };
}

/** Runs the listing bench; see {@link ListingReport}. */
export async function runListingBench(opts: {
  dataDir: string;
  quick: boolean;
  print: (t: string) => void;
  formatHeader: (h: RunHeader) => string;
}): Promise<ListingReport> {
  const dir = join(opts.dataDir, 'listing');
  mkdirSync(dir, { recursive: true });
  const fixture = new ContainerFixture();
  const small = join(dir, 'ps-10k.db');
  const big = join(dir, 'ps-100k.db');
  await createBerthFile(small, fixture, 10_000, Date.now);
  await createBerthFile(big, fixture, 100_000, Date.now);
  const store = await openStore({ path: small });
  const header = runHeader({ berth: await storePragmas(store) }, dir);
  await store.close();
  opts.print(opts.formatHeader(header));

  const rows = (n: number) => (out: string) => {
    const lines = out.trimEnd().split('\n').length;
    if (lines !== n) throw new Error(`expected ${n} lines, got ${lines}`);
  };
  const items = (n: number) => (out: string) => {
    const count = (JSON.parse(out) as unknown[]).length;
    if (count !== n) throw new Error(`expected ${n} entries, got ${count}`);
  };
  const cases: Case[] = [
    { name: 'node -e 0', args: ['-e', '0'], expect: () => undefined },
    {
      name: 'ps -a --format json (10k)',
      args: [BIN, '--store', small, 'ps', '-a', '--format', 'json'],
      expect: items(10_000),
    },
    {
      name: 'ps -a --filter label (10k, 10 rows)',
      args: [BIN, '--store', small, 'ps', '-a', '--filter', 'label=com.example.build=b7'],
      expect: rows(11),
    },
    {
      name: 'ps -a --filter label (100k, 100 rows)',
      args: [BIN, '--store', big, 'ps', '-a', '--filter', 'label=com.example.build=b7'],
      expect: rows(101),
    },
    { name: 'ps -a (100k)', args: [BIN, '--store', big, 'ps', '-a'], expect: rows(100_001) },
    { name: 'raw floor: json (10k)', args: [FLOOR, small, 'json'], expect: items(10_000) },
    {
      name: 'raw floor: label (100k, 100 rows)',
      args: [FLOOR, big, 'label', 'com.example.build=b7'],
      expect: rows(101),
    },
  ];
  // Settle (first opens record the boot id) and check the work done.
  for (const c of cases) c.expect(run(c.args).stdout);
  const rounds = opts.quick ? 5 : 11;
  const samples = new Map<string, { ms: number[]; rss: number[] }>(cases.map((c) => [c.name, { ms: [], rss: [] }]));
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? cases : [...cases].reverse();
    for (const c of order) {
      if (c.name.includes('(100k)') && !c.name.includes('filter') && i % 2 === 1 && opts.quick) continue;
      const r = run(c.args);
      samples.get(c.name)!.ms.push(r.ms);
      if (r.rss !== null) samples.get(c.name)!.rss.push(r.rss);
    }
  }
  const timings: Timing[] = cases.map((c) => {
    const s = samples.get(c.name)!;
    const ms = [...s.ms].sort((a, b) => a - b);
    const rss = [...s.rss].sort((a, b) => a - b);
    return {
      name: c.name,
      medianMs: percentile(ms, 50),
      p90Ms: percentile(ms, 90),
      maxRss: rss.length ? percentile(rss, 50) : null,
    };
  });
  const adds = await durableAdds(dir, small, fixture);
  const t = (name: string): Timing => timings.find((x) => x.name === name)!;
  const node = t('node -e 0').medianMs;
  const json10k = t('ps -a --format json (10k)').medianMs - node;
  const filtered = t('ps -a --filter label (100k, 100 rows)').medianMs - node;
  const table100k = t('ps -a (100k)').medianMs;
  const rssSmall = t('ps -a --filter label (10k, 10 rows)').maxRss;
  const rssBig = t('ps -a --filter label (100k, 100 rows)').maxRss;
  const growth = rssSmall && rssBig ? rssBig / rssSmall : NaN;
  const jsonFloor = t('raw floor: json (10k)').medianMs - node;
  const labelFloor = t('raw floor: label (100k, 100 rows)').medianMs - node;
  const checks = [
    {
      what: 'ps -a --format json, 10k: over node -e 0',
      value: `${json10k.toFixed(0)} ms`,
      target: `<= ${LISTING_TARGETS.json10kOverNodeMs} ms`,
      pass: json10k <= LISTING_TARGETS.json10kOverNodeMs,
    },
    {
      what: 'filtered ps, 100k (100 rows): over node -e 0',
      value: `${filtered.toFixed(0)} ms`,
      target: `<= ${LISTING_TARGETS.filtered100kOverNodeMs} ms`,
      pass: filtered <= LISTING_TARGETS.filtered100kOverNodeMs,
    },
    {
      what: 'ps -a, 100k: total',
      value: `${table100k.toFixed(0)} ms`,
      target: `< ${LISTING_TARGETS.table100kMs} ms`,
      pass: table100k < LISTING_TARGETS.table100kMs,
    },
    {
      what: 'filtered ps peak RSS, 100k over 10k',
      value: Number.isFinite(growth) ? `${growth.toFixed(2)}x` : 'n/a (no /usr/bin/time)',
      target: `<= ${LISTING_TARGETS.filteredRssGrowth}x`,
      pass: !Number.isFinite(growth) || growth <= LISTING_TARGETS.filteredRssGrowth,
    },
    {
      what: 'durable add, 10k, with the listing rows: vs raw',
      value:
        `${adds.after.ratio.toFixed(2)}x (${adds.after.berth.medianUs.toFixed(0)} vs ${adds.after.raw.medianUs.toFixed(0)} µs;` +
        ` without them ${adds.before.ratio.toFixed(2)}x, ${adds.before.berth.medianUs.toFixed(0)} µs)`,
      target: `<= ${TARGETS.add}x`,
      pass: adds.after.ratio <= TARGETS.add,
    },
    {
      what: 'ps -a --format json, 10k: over node, vs the raw floor',
      value: `${json10k.toFixed(0)} vs ${jsonFloor.toFixed(0)} ms (${(json10k / jsonFloor).toFixed(2)}x)`,
      target: '<= 1.3x',
      pass: json10k <= 1.3 * jsonFloor,
    },
    {
      what: 'filtered ps, 100k: over node, vs the raw floor',
      value: `${filtered.toFixed(0)} vs ${labelFloor.toFixed(0)} ms (${(filtered / labelFloor).toFixed(2)}x)`,
      target: '<= 1.3x',
      pass: filtered <= 1.3 * labelFloor,
    },
    {
      what: 'ps -a --format json, 10k: vs podman ps -a on 10k (4.6 s)',
      value: `${(4600 / t('ps -a --format json (10k)').medianMs).toFixed(1)}x faster`,
      target: '>= 20x',
      pass: 4600 / t('ps -a --format json (10k)').medianMs >= 20,
    },
  ];
  opts.print(
    [
      '\n== listing: berth ps from the command line (fresh process per run) ==',
      formatTable(
        ['command', 'p50', 'p90', 'max rss'],
        timings.map((x) => [
          x.name,
          `${x.medianMs.toFixed(0)} ms`,
          `${x.p90Ms.toFixed(0)} ms`,
          x.maxRss ? formatMiB(x.maxRss) : '-',
        ]),
      ),
      '',
      formatTable(
        ['check', 'value', 'target', ''],
        checks.map((c) => [c.what, c.value, c.target, c.pass ? 'PASS' : 'MISS']),
      ),
    ].join('\n'),
  );
  const misses = checks.filter((c) => !c.pass).map((c) => `${c.what}: ${c.value} (target ${c.target})`);
  return { name: 'listing', header, timings, targets: LISTING_TARGETS, adds, checks, misses };
}
