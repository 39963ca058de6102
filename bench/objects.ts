import BetterSqlite3 from 'better-sqlite3';
import { fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { openStore, type Container, type Store } from './berth.js';
import {
  collectGarbage,
  compare,
  formatMiB,
  formatRate,
  formatTable,
  formatUs,
  openRawDatabase,
  readPragmas,
  REPO_ROOT,
  runHeader,
  seededRandom,
  summarise,
  balancedOrders,
  type Comparison,
  type Op,
  type RunHeader,
} from './harness.js';
import type { ListMemory } from './list-memory.js';

/*
 * The object store against raw better-sqlite3 (STYLE.md habit 11): lookups, durable adds
 * and full listings of containers, for stores of several sizes. Both sides run in the
 * same process on files with the same schema, rows and pragmas.
 */

/** berth/raw ratios the object store must stay within (DESIGN.md §2 "close to raw"; issue 15's targets). */
export const TARGETS = { lookup: 1.5, add: 1.4, list: 1.3 } as const;
type TargetGroup = keyof typeof TARGETS;

const ACTOR = 'bench@berth';
const SEED = 0x5eed;
/** Durable adds measured per side and size. */
const ADDS = 400;
/** Lookup inputs sampled per size (each side looks up the same ones). */
const LOOKUP_KEYS = 4096;

/** One row of the result: an operation at one store size. */
export interface OpResult extends Comparison {
  size: number;
  op: string;
  group: TargetGroup;
  target: number;
  pass: boolean;
}

/** Lookup cost at the largest size over the smallest, per side. */
export interface GrowthResult {
  op: string;
  from: number;
  to: number;
  berth: number;
  raw: number;
  /** log(to) / log(from): what an index (B-tree) lookup may grow by. */
  logFactor: number;
  /** berth grew no more than the log factor, or no more than raw did (both +25% noise). */
  withinLog: boolean;
}

/** Memory of one full listing per side. */
export interface MemoryResult {
  size: number;
  berth: ListMemory;
  raw: ListMemory;
}

/** Everything bench/run.ts prints and writes to bench/results/objects.json. */
export interface ObjectsReport {
  name: 'objects';
  header: RunHeader;
  sizes: number[];
  targets: typeof TARGETS;
  fill: { size: number; seconds: number }[];
  results: OpResult[];
  memory: MemoryResult[];
  growth: GrowthResult[];
  misses: string[];
}

// ---------------------------------------------------------------- inputs

const SERVICES = ['web', 'api', 'worker', 'db', 'cache', 'proxy', 'cron', 'auth', 'search', 'queue'] as const;
const IMAGES = [
  ['docker.io/library/nginx', '1.27-alpine', ['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off;']],
  ['docker.io/library/node', '20-bookworm-slim', ['node', 'dist/server.js', '--port', '8080']],
  ['docker.io/library/python', '3.12-slim', ['python', '-m', 'app.worker', '--concurrency', '4']],
  ['docker.io/library/postgres', '16.4', ['postgres', '-c', 'max_connections=200']],
  ['docker.io/library/redis', '7.4-alpine', ['redis-server', '--appendonly', 'yes']],
  ['quay.io/prometheus/node-exporter', 'v1.8.2', ['/bin/node_exporter', '--path.rootfs=/host']],
] as const;
const STATUSES = ['running', 'running', 'running', 'exited', 'configured', 'stopped'] as const;
const BASE_TIME = Date.UTC(2025, 0, 1);

/**
 * Deterministic, realistic containers: index `i` always gives the same id, name and
 * config (~1 KiB of JSON: image, command, env, labels, networks, ports, ...).
 */
export class ContainerFixture {
  private readonly ids: string[] = [];
  private readonly random = seededRandom(SEED);

  /** The 64-hex id of container `i`. */
  id(i: number): string {
    while (this.ids.length <= i) {
      let id = '';
      for (let k = 0; k < 8; k++) id += ((this.random() * 2 ** 32) >>> 0).toString(16).padStart(8, '0');
      this.ids.push(id);
    }
    return this.ids[i]!;
  }

  /** The name of container `i`. */
  name(i: number): string {
    return `${SERVICES[i % SERVICES.length]}-${i}`;
  }

  /** Container `i`, with every field berth would otherwise fill in already present. */
  container(i: number): Container {
    const service = SERVICES[i % SERVICES.length]!;
    const [image, tag, command] = IMAGES[i % IMAGES.length]!;
    const project = `shop${i % 37}`;
    const id = this.id(i);
    const created = BASE_TIME + i * 1000;
    const labels: Record<string, string> = {
      'io.podman.compose.project': project,
      'io.podman.compose.service': service,
      'org.opencontainers.image.version': tag,
      'com.example.team': `team-${i % 7}`,
      // Selective: 1 container in 1,000 has each value (the filtered listing bench).
      'com.example.build': `b${i % 1000}`,
    };
    // Every tenth container is managed by a workspace: berth copies the label to a column.
    if (i % 10 === 0) labels['berth.workspace'] = `ws-${i % 13}`;
    const status = STATUSES[i % STATUSES.length]!;
    const state: Container['state'] = { status };
    if (status === 'running') {
      state.pid = 1000 + (i % 30000);
      state.startedAt = new Date(created + 5000).toISOString();
      state.mounted = true;
      state.mountpoint = `/var/lib/containers/storage/overlay/${id}/merged`;
    } else if (status === 'exited' || status === 'stopped') {
      state.exitCode = i % 3 === 0 ? 137 : 0;
      state.startedAt = new Date(created + 5000).toISOString();
      state.finishedAt = new Date(created + 3_600_000).toISOString();
    }
    return {
      config: {
        id,
        name: this.name(i),
        namespace: '',
        image: `${image}:${tag}`,
        command: [...command],
        env: {
          PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          HOSTNAME: id.slice(0, 12),
          APP_ENV: i % 4 === 0 ? 'staging' : 'production',
          PORT: '8080',
          TZ: 'UTC',
        },
        labels,
        networks: { [`${project}_default`]: { aliases: [service], interfaceName: 'eth0' } },
        portMappings: [{ hostPort: 20000 + (i % 40000), containerPort: 8080, protocol: 'tcp' }],
        workingDir: '/srv/app',
        user: '1000:1000',
        stopSignal: 'SIGTERM',
        stopTimeout: 10,
        restartPolicy: 'on-failure',
        createdAt: new Date(created).toISOString(),
      },
      state,
    };
  }
}

// ---------------------------------------------------------------- the two sides

/** The statements berth runs for a container add (engine/objects/containers.ts, events/journal.ts). */
interface BerthWriter {
  insertContainer: BetterSqlite3.Statement<
    [string, string, string, string | null, string | null, string, string, number, number]
  >;
  insertEvent: BetterSqlite3.Statement<[number, string, string, string, string, string]>;
}

function berthWriter(db: BetterSqlite3.Database): BerthWriter {
  return {
    insertContainer: db.prepare(
      `INSERT INTO containers (id, name, namespace, pod_id, workspace, config_json, state_json, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertEvent: db.prepare(
      `INSERT INTO events (ts, namespace, type, subject_kind, subject_id, subject_name, actor, data_json)
       VALUES (?, ?, 'container.create', 'container', ?, ?, ?, ?)`,
    ),
  };
}

/** Writes the rows berth writes for `addContainer(ctr)` (no pod, dependencies or volumes; triggers fill the listing row). */
function berthInsert(w: BerthWriter, ctr: Container, now: number): void {
  const { config } = ctr;
  const namespace = config.namespace ?? '';
  w.insertContainer.run(
    config.id,
    config.name,
    namespace,
    null,
    config.labels?.['berth.workspace'] ?? null,
    JSON.stringify(config),
    JSON.stringify(ctr.state),
    now,
    now,
  );
  w.insertEvent.run(now, namespace, config.id, config.name, ACTOR, '{}');
}

/**
 * The raw baseline (issue: durable add within 1.4x of it): one table keyed by id with a
 * unique name, holding each container's config and state, written by raw better-sqlite3.
 */
const RAW_SCHEMA = `CREATE TABLE containers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  config_json TEXT NOT NULL,
  state_json TEXT NOT NULL
) STRICT`;

function rawInsertStatement(db: BetterSqlite3.Database): BetterSqlite3.Statement<[string, string, string, string]> {
  return db.prepare('INSERT INTO containers (id, name, config_json, state_json) VALUES (?, ?, ?, ?)');
}

/**
 * Fills a store file with containers [0, count) in one transaction on a connection of its
 * own, closed afterwards (which checkpoints the WAL, as a long-lived store would have).
 */
function fillFile(file: string, fixture: ContainerFixture, count: number, now: () => number): void {
  const db = openRawDatabase(file);
  try {
    const w = berthWriter(db);
    db.transaction(() => {
      for (let i = 0; i < count; i++) berthInsert(w, fixture.container(i), now());
    }).immediate();
  } finally {
    db.close();
  }
}

/** A fresh raw baseline file, filled with the same containers. */
export function createRawFile(file: string, fixture: ContainerFixture, count: number): void {
  const db = openRawDatabase(file);
  try {
    db.exec(RAW_SCHEMA);
    const insert = rawInsertStatement(db);
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const c = fixture.container(i);
        insert.run(c.config.id, c.config.name, JSON.stringify(c.config), JSON.stringify(c.state));
      }
    }).immediate();
  } finally {
    db.close();
  }
}

/** A berth store created by openStore (migrations, boot id), closed, then filled. */
export async function createBerthFile(file: string, fixture: ContainerFixture, count: number, now: () => number) {
  const store = await openStore({ path: file, actor: ACTOR, clock: now });
  await store.close();
  fillFile(file, fixture, count, now);
}

type Row = Record<string, unknown>;

function dumpRows(file: string): Record<string, Row[]> {
  const db = openRawDatabase(file);
  try {
    return {
      containers: db.prepare('SELECT * FROM containers ORDER BY rowid').all() as Row[],
      container_summaries: db.prepare('SELECT * FROM container_summaries ORDER BY created, id').all() as Row[],
      events: db.prepare('SELECT * FROM events ORDER BY seq').all() as Row[],
    };
  } finally {
    db.close();
  }
}

/**
 * Checks that the bulk fill writes exactly the rows `store.addContainer` writes: the same
 * containers are added through the API into one store and filled into another, with one
 * fixed clock, and the tables compared row by row.
 */
async function verifyFill(dir: string, fixture: ContainerFixture): Promise<void> {
  const count = 30;
  const now = () => BASE_TIME;
  const viaApi = join(dir, 'verify-api.db');
  const store = await openStore({ path: viaApi, actor: ACTOR, clock: now });
  for (let i = 0; i < count; i++) await store.addContainer(fixture.container(i));
  await store.close();
  const viaFill = join(dir, 'verify-fill.db');
  await createBerthFile(viaFill, fixture, count, now);
  const a = dumpRows(viaApi);
  const b = dumpRows(viaFill);
  for (const table of Object.keys(a)) {
    if (!isDeepStrictEqual(a[table], b[table])) {
      throw new Error(
        `bench fill differs from store.addContainer in table ${table}; fix fillFile() in bench/objects.ts`,
      );
    }
  }
}

/**
 * The pragmas a store runs with, for the header: the file's own (journal mode, page size,
 * …) read on a second connection, and the store connection's own settings (synchronous,
 * foreign keys, busy timeout) as `diagnose()` reports them.
 */
export async function storePragmas(store: Store): Promise<Record<string, string>> {
  const db = new BetterSqlite3(store.location, { readonly: true });
  try {
    const pragmas = readPragmas(db);
    const own = (await store.diagnose()).settings;
    pragmas.synchronous = ['OFF', 'NORMAL', 'FULL', 'EXTRA'][Number(own.synchronous)] ?? String(own.synchronous);
    pragmas.foreign_keys = Number(own.foreign_keys) === 1 ? 'ON' : 'OFF';
    pragmas.busy_timeout = `${own.busy_timeout} ms`;
    // Per connection too: berth's own, not the build default this reading connection got.
    pragmas.cache_size = String(own.cache_size);
    return pragmas;
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------- measuring

/** Indices whose 8-character id prefix is unique in the store, so a prefix lookup finds one. */
function uniquePrefixSample(fixture: ContainerFixture, size: number, want: number): number[] {
  const counts = new Map<string, number>();
  for (let i = 0; i < size; i++) {
    const p = fixture.id(i).slice(0, 8);
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  const random = seededRandom(SEED + size);
  const out: number[] = [];
  while (out.length < want) {
    const i = Math.floor(random() * size);
    if (counts.get(fixture.id(i).slice(0, 8)) === 1) out.push(i);
  }
  return out;
}

/** Runs bench/list-memory.ts in a fresh process (same node flags, minus profilers). */
function listMemory(side: 'berth' | 'raw', file: string): Promise<ListMemory> {
  const execArgv = process.execArgv.filter((a) => !/^--(cpu-prof|heap-prof|prof|inspect)/.test(a));
  return new Promise((resolve, reject) => {
    const child = fork(join(REPO_ROOT, 'bench', 'list-memory.ts'), [side, file], { execArgv, stdio: 'inherit' });
    let report: ListMemory | undefined;
    child.on('message', (m) => (report = m as ListMemory));
    child.on('error', reject);
    child.on('exit', (code) =>
      report ? resolve(report) : reject(new Error(`list-memory.ts ${side} exited with ${code} and no report`)),
    );
  });
}

function result(size: number, op: string, group: TargetGroup, c: Comparison): OpResult {
  const target = TARGETS[group];
  return { size, op, group, target, pass: c.ratio <= target, ...c };
}

interface SizeRun {
  results: OpResult[];
  fillSeconds: number;
  header?: RunHeader;
}

async function benchSize(
  size: number,
  dir: string,
  fixture: ContainerFixture,
  wantHeader: boolean,
  quick: boolean,
): Promise<SizeRun> {
  const berthFile = join(dir, `berth-${size}.db`);
  const rawFile = join(dir, `raw-${size}.db`);
  const t0 = performance.now();
  await createBerthFile(berthFile, fixture, size, Date.now);
  createRawFile(rawFile, fixture, size);
  const fillSeconds = (performance.now() - t0) / 1000;

  const store = await openStore({ path: berthFile, actor: ACTOR });
  const raw = openRawDatabase(rawFile);
  try {
    const header = wantHeader ? runHeader({ berth: await storePragmas(store), raw }, dir) : undefined;
    const byId = raw.prepare<[string], { config_json: string; state_json: string }>(
      'SELECT config_json, state_json FROM containers WHERE id = ?',
    );
    const byName = raw.prepare<[string], { config_json: string; state_json: string }>(
      'SELECT config_json, state_json FROM containers WHERE name = ?',
    );
    const byPrefix = raw.prepare<[string, string], { config_json: string; state_json: string }>(
      'SELECT config_json, state_json FROM containers WHERE id >= ? AND id < ? LIMIT 2',
    );
    const everything = raw.prepare<[], { config_json: string; state_json: string }>(
      'SELECT config_json, state_json FROM containers',
    );
    const toObject = (r: { config_json: string; state_json: string } | undefined): Container => {
      if (r === undefined) throw new Error('raw lookup found nothing');
      return { config: JSON.parse(r.config_json) as Container['config'], state: JSON.parse(r.state_json) };
    };
    const rawPrefix = (p: string): Container => {
      const rows = byPrefix.all(p, p + '\u{10FFFF}');
      if (rows.length !== 1) throw new Error(`raw prefix lookup of ${p} found ${rows.length}`);
      return toObject(rows[0]);
    };

    const sample = uniquePrefixSample(fixture, size, LOOKUP_KEYS);
    const ids = sample.map((i) => fixture.id(i));
    const names = sample.map((i) => fixture.name(i));
    const prefixes = ids.map((id) => id.slice(0, 8));
    const at = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;

    const lookups: [string, Op, Op][] = [
      ['lookupContainer(id)', (i) => store.lookupContainer(at(ids, i)), (i) => toObject(byId.get(at(ids, i)))],
      ['container(id)', (i) => store.container(at(ids, i)), (i) => toObject(byId.get(at(ids, i)))],
      ['lookupContainer(name)', (i) => store.lookupContainer(at(names, i)), (i) => toObject(byName.get(at(names, i)))],
      ['lookupContainer(prefix8)', (i) => store.lookupContainer(at(prefixes, i)), (i) => rawPrefix(at(prefixes, i))],
    ];

    // Same work: both sides must return the same object for the same input.
    for (const [op, b, r] of lookups) {
      for (const i of [0, 1, 2]) {
        if (!isDeepStrictEqual(await b(i), r(i))) throw new Error(`${op}: berth and raw disagree on input ${i}`);
      }
    }

    const results: OpResult[] = [];
    for (const [op, b, r] of lookups) {
      results.push(result(size, op, 'lookup', await compare(b, r, { batches: quick ? 400 : 800, opsPerBatch: 25 })));
    }

    const reps = Math.min(60, Math.max(5, Math.round(300_000 / size)));
    const listing = await compare(
      () => store.allContainers(),
      () => everything.all().map(toObject),
      { batches: reps, opsPerBatch: 1, warmupBatches: 1 },
    );
    results.push(result(size, 'allContainers', 'list', listing));
    // Adds last: the lookups and the listing above ran on exactly `size` containers.
    results.push(result(size, 'addContainer (durable)', 'add', await compareAdds(store, raw, fixture, size)));
    return { results, fillSeconds, ...(header ? { header } : {}) };
  } finally {
    await store.close();
    raw.close();
  }
}

/** Memory of one full listing per side, each in a fresh process, with the files closed here. */
async function measureMemory(size: number, dir: string): Promise<MemoryResult> {
  collectGarbage();
  return {
    size,
    berth: await listMemory('berth', join(dir, `berth-${size}.db`)),
    raw: await listMemory('raw', join(dir, `raw-${size}.db`)),
  };
}

/**
 * Durable adds, one transaction each (synchronous=FULL on both sides), timed one by one.
 * Both sides add the same new containers.
 */
export async function compareAdds(
  store: Store,
  raw: BetterSqlite3.Database,
  fixture: ContainerFixture,
  size: number,
): Promise<Comparison> {
  return (await compareAddsOf({ berth: store }, raw, fixture, size)).berth;
}

/**
 * Durable adds of several stores and the raw insert, timed one by one, each add of the
 * same new container on every side in a balanced order (each side first, and after each
 * other side, equally often), so WAL checkpoints and fsync hiccups fall on all alike.
 */
export async function compareAddsOf<K extends string>(
  stores: Readonly<Record<K, Store>>,
  raw: BetterSqlite3.Database,
  fixture: ContainerFixture,
  size: number,
): Promise<Record<K, Comparison>> {
  const insert = rawInsertStatement(raw);
  const begin = raw.prepare('BEGIN IMMEDIATE');
  const commit = raw.prepare('COMMIT');
  const rawAdd = (ctr: Container): void => {
    begin.run();
    try {
      insert.run(ctr.config.id, ctr.config.name, JSON.stringify(ctr.config), JSON.stringify(ctr.state));
      commit.run();
    } catch (err) {
      if (raw.inTransaction) raw.prepare('ROLLBACK').run();
      throw err;
    }
  };
  const names = Object.keys(stores) as K[];
  const sides: ((ctr: Container) => unknown)[] = [
    ...names.map((n) => (ctr: Container) => stores[n].addContainer(ctr)),
    rawAdd,
  ];
  const warmup = 10;
  const inputs = Array.from({ length: ADDS + warmup }, (_, k) => fixture.container(size + k));
  for (let k = 0; k < warmup; k++) for (const add of sides) await add(inputs[k]!);
  const us: number[][] = sides.map(() => []);
  const orders = balancedOrders(sides.length);
  for (let k = warmup; k < inputs.length; k++) {
    const ctr = inputs[k]!;
    for (const i of orders[k % orders.length]!) {
      const add = sides[i]!;
      const t0 = process.hrtime.bigint();
      await add(ctr);
      us[i]!.push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
  }
  const r = summarise(us[names.length]!, 1);
  return Object.fromEntries(
    names.map((n, i) => {
      const b = summarise(us[i]!, 1);
      return [n, { berth: b, raw: r, ratio: b.medianUs / r.medianUs }];
    }),
  ) as Record<K, Comparison>;
}

function growth(results: readonly OpResult[], sizes: readonly number[]): GrowthResult[] {
  const from = Math.min(...sizes);
  const to = Math.max(...sizes);
  if (from === to) return [];
  const logFactor = Math.log(to) / Math.log(from);
  const out: GrowthResult[] = [];
  for (const r of results.filter((x) => x.group === 'lookup' && x.size === from)) {
    const big = results.find((x) => x.op === r.op && x.size === to);
    if (!big) continue;
    const berth = big.berth.medianUs / r.berth.medianUs;
    const rawGrowth = big.raw.medianUs / r.raw.medianUs;
    out.push({
      op: r.op,
      from,
      to,
      berth,
      raw: rawGrowth,
      logFactor,
      withinLog: berth <= logFactor * 1.25 || berth <= rawGrowth * 1.25,
    });
  }
  return out;
}

/** Options of {@link runObjectsBench}. */
export interface ObjectsBenchOptions {
  sizes: number[];
  /** A scratch directory for the store files (on the disk under test: adds fsync). */
  dataDir: string;
  /** Fewer lookup batches (set by --quick). */
  quick: boolean;
  /** Receives the header and each table as soon as it is ready. */
  print: (text: string) => void;
  formatHeader: (h: RunHeader) => string;
}

/** Runs the object-store bench for every size; see {@link ObjectsReport}. */
export async function runObjectsBench(opts: ObjectsBenchOptions): Promise<ObjectsReport> {
  const { sizes, dataDir, print } = opts;
  mkdirSync(dataDir, { recursive: true });
  const fixture = new ContainerFixture();
  await verifyFill(dataDir, fixture);

  let header: RunHeader | undefined;
  const results: OpResult[] = [];
  const memory: MemoryResult[] = [];
  const fill: { size: number; seconds: number }[] = [];
  for (const size of sizes) {
    const run = await benchSize(size, dataDir, fixture, header === undefined, opts.quick);
    if (run.header) {
      header = run.header;
      print(opts.formatHeader(header));
    }
    const mem = await measureMemory(size, dataDir);
    results.push(...run.results);
    memory.push(mem);
    fill.push({ size, seconds: run.fillSeconds });
    print(formatSize(size, run, mem));
  }

  const grown = growth(results, sizes);
  const misses = results
    .filter((r) => !r.pass)
    .map((r) => `${r.op} @ ${r.size.toLocaleString('en-US')}: ${r.ratio.toFixed(2)}x > ${r.target}x`);
  for (const g of grown.filter((x) => !x.withinLog)) {
    misses.push(
      `${g.op}: lookup time grew ${g.berth.toFixed(2)}x from ${g.from} to ${g.to} (log factor ${g.logFactor.toFixed(2)}, raw ${g.raw.toFixed(2)}x)`,
    );
  }
  if (grown.length > 0) print(formatGrowth(grown));
  print(formatSummary(results, misses));
  return { name: 'objects', header: header!, sizes, targets: TARGETS, fill, results, memory, growth: grown, misses };
}

// ---------------------------------------------------------------- tables

function formatSize(size: number, run: SizeRun, m: MemoryResult): string {
  const rows = run.results.map((r) => [
    r.op,
    formatUs(r.berth.medianUs),
    formatUs(r.berth.p99Us),
    formatUs(r.raw.medianUs),
    formatUs(r.raw.p99Us),
    formatRate(r.berth.opsPerSec),
    formatRate(r.raw.opsPerSec),
    `${r.ratio.toFixed(2)}x`,
    `<=${r.target}x`,
    r.pass ? 'PASS' : 'MISS',
  ]);
  const perObject = (x: ListMemory) => `${Math.round(x.retainedHeap / x.count)}B`;
  const memRows = [m.berth, m.raw].map((x) => [
    x.side,
    x.count.toLocaleString('en-US'),
    formatMiB(x.retainedHeap),
    perObject(x),
    formatMiB(x.peakHeap),
    formatMiB(x.rss),
    formatMiB(x.maxRss),
  ]);
  return [
    `\n== objects: ${size.toLocaleString('en-US')} containers (filled in ${run.fillSeconds.toFixed(1)}s) ==`,
    formatTable(
      ['op', 'berth p50', 'berth p99', 'raw p50', 'raw p99', 'berth op/s', 'raw op/s', 'berth/raw', 'target', ''],
      rows,
    ),
    '',
    `allContainers memory (fresh process per side; retained = heap still held after GC):`,
    formatTable(['side', 'objects', 'retained', 'per object', 'peak heap', 'rss', 'max rss'], memRows),
  ].join('\n');
}

function formatGrowth(grown: readonly GrowthResult[]): string {
  const rows = grown.map((g) => [
    g.op,
    `${g.berth.toFixed(2)}x`,
    `${g.raw.toFixed(2)}x`,
    `${g.logFactor.toFixed(2)}x`,
    g.withinLog ? 'ok (<= log)' : 'GROWS',
  ]);
  const { from, to } = grown[0]!;
  return [
    `\n== lookup growth, ${from.toLocaleString('en-US')} -> ${to.toLocaleString('en-US')} containers (p50 ratio) ==`,
    formatTable(['op', 'berth', 'raw', 'log factor', ''], rows),
  ].join('\n');
}

function formatSummary(results: readonly OpResult[], misses: readonly string[]): string {
  const passed = results.filter((r) => r.pass).length;
  const lines = [`\n== objects: ${passed}/${results.length} within target ==`];
  for (const m of misses) lines.push(`MISS  ${m}`);
  return lines.join('\n');
}
