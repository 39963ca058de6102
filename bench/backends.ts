import type BetterSqlite3 from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import { copyStoreTo, openStore, type Store, type Container } from './berth.js';
import {
  collectGarbage,
  compareSides,
  formatRate,
  formatTable,
  formatUs,
  openRawDatabase,
  REPO_ROOT,
  runHeader,
  summarise,
  type CpuSample,
  type RunHeader,
  type Sample,
} from './harness.js';
import { ContainerFixture, createBerthFile, storePragmas } from './objects.js';

/*
 * The two backends side by side (issue: "teams that outgrow one machine point the same
 * engine at PostgreSQL"): the object benchmarks of bench/objects.ts (lookups by id, name
 * and id prefix, durable adds, full listings of 1k and 10k containers) and the lock
 * cycles of bench/locks.ts (uncontended, and 4 processes contending for one workspace),
 * on SQLite and on PostgreSQL in one run, with raw better-sqlite3 as the floor for the
 * SQLite reads and adds. PostgreSQL is reached over the local socket when there is one
 * (BENCH_PG_URL overrides), in a scratch schema dropped afterwards. Both stores hold the
 * same rows: the PostgreSQL one is filled with `copyStoreTo` from the SQLite one.
 */

const ACTOR = 'bench@berth';
const SIZES = [1_000, 10_000];
const PROCESSES = 4;
const LOOKUP_KEYS = 2048;
const WORKSPACE = 'bench';
const WORKER = join(REPO_ROOT, 'bench', 'backends-worker.ts');

type Backend = 'sqlite' | 'postgres';
type Side = Backend | 'raw';

/** One measured operation: a sample per side (raw only where it has an equivalent). */
export interface BackendResult {
  size: number | null;
  op: string;
  sides: Partial<Record<Side, Sample | CpuSample>>;
  /** postgres median / sqlite median. */
  pgOverSqlite: number;
}

export interface ContentionResult {
  backend: Backend;
  processes: number;
  cyclesPerProcess: number;
  seconds: number;
  cyclesPerSec: number;
  counterOk: boolean;
}

export interface BackendsReport {
  name: 'backends';
  header: RunHeader | null;
  postgres: { url: string; version: string; settings: Record<string, string> } | null;
  results: BackendResult[];
  contention: ContentionResult[];
  misses: string[];
  skipped?: string;
}

export interface BackendsBenchOptions {
  dataDir: string;
  quick: boolean;
  print: (text: string) => void;
  formatHeader: (h: RunHeader) => string;
}

/** The PostgreSQL server to use: BENCH_PG_URL, else the local socket, else 127.0.0.1. */
export function benchPgUrl(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BENCH_PG_URL) return env.BENCH_PG_URL;
  return existsSync('/var/run/postgresql/.s.PGSQL.5432')
    ? 'postgres://postgres@/test?host=/var/run/postgresql'
    : 'postgres://postgres@127.0.0.1:5432/test';
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function serverInfo(url: string): Promise<{ version: string; settings: Record<string, string> }> {
  return withClient(url, async (c) => {
    const settings: Record<string, string> = {};
    for (const name of ['synchronous_commit', 'fsync', 'wal_sync_method', 'shared_buffers', 'max_connections']) {
      settings[name] = String((await c.query(`SHOW ${name}`)).rows[0][name]);
    }
    return { version: String((await c.query('SHOW server_version')).rows[0].server_version), settings };
  });
}

/** Indices whose 8-character id prefix is unique among [0, size). */
function uniquePrefixSample(fixture: ContainerFixture, size: number, want: number): number[] {
  const counts = new Map<string, number>();
  for (let i = 0; i < size; i++) {
    const p = fixture.id(i).slice(0, 8);
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  const out: number[] = [];
  for (let i = 0; out.length < want && i < size * 4; i++) {
    const k = (i * 7919) % size;
    if (counts.get(fixture.id(k).slice(0, 8)) === 1) out.push(k);
  }
  return out;
}

/**
 * The rows berth writes for a container add, written with raw better-sqlite3 in one
 * durable transaction, on berth's own schema (its triggers add the listing's summary row).
 */
function rawAdder(db: BetterSqlite3.Database): (ctr: Container) => void {
  const insertContainer = db.prepare(
    `INSERT INTO containers (id, name, namespace, pod_id, workspace, config_json, state_json, created_at, updated_at)
     VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?)`,
  );
  const insertEvent = db.prepare(
    `INSERT INTO events (ts, namespace, type, subject_kind, subject_id, subject_name, actor, data_json)
     VALUES (?, ?, 'container.create', 'container', ?, ?, ?, '{}')`,
  );
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  return (ctr) => {
    const { config } = ctr;
    const now = Date.now();
    const ns = config.namespace ?? '';
    begin.run();
    try {
      insertContainer.run(
        config.id,
        config.name,
        ns,
        config.labels?.['berth.workspace'] ?? null,
        JSON.stringify(config),
        JSON.stringify(ctr.state),
        now,
        now,
      );
      insertEvent.run(now, ns, config.id, config.name, ACTOR);
      commit.run();
    } catch (err) {
      if (db.inTransaction) db.prepare('ROLLBACK').run();
      throw err;
    }
  };
}

/** Durable adds, timed one by one, the sides taking turns going first. */
async function compareAdds(
  adders: Partial<Record<Side, (ctr: Container) => unknown>>,
  fixture: ContainerFixture,
  first: number,
  count: number,
): Promise<Partial<Record<Side, Sample>>> {
  const names = Object.keys(adders) as Side[];
  const us = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Side, number[]>;
  // Each side adds its own containers: the same fixture indices would clash in the raw file.
  const offset = (side: Side): number => first + names.indexOf(side) * (count + 10);
  for (let k = 0; k < count + 10; k++) {
    for (let j = 0; j < names.length; j++) {
      const side = names[(k + j) % names.length]!;
      const ctr = fixture.container(offset(side) + k);
      const t0 = process.hrtime.bigint();
      await adders[side]!(ctr);
      if (k >= 10) us[side].push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
  }
  return Object.fromEntries(names.map((n) => [n, summarise(us[n], 1)]));
}

function ratio(sides: Partial<Record<Side, Sample>>): number {
  return sides.postgres && sides.sqlite ? sides.postgres.medianUs / sides.sqlite.medianUs : NaN;
}

async function benchSize(
  size: number,
  dir: string,
  pgUrl: string,
  fixture: ContainerFixture,
  schemas: string[],
  quick: boolean,
  wantHeader: boolean,
): Promise<{ results: BackendResult[]; header?: RunHeader; fillSeconds: { sqlite: number; postgres: number } }> {
  const file = join(dir, `backends-${size}.db`);
  let t0 = performance.now();
  await createBerthFile(file, fixture, size, Date.now);
  const sqliteFill = (performance.now() - t0) / 1000;
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  schemas.push(schema);
  t0 = performance.now();
  await copyStoreTo({ path: file }, { url: pgUrl, schema });
  const pgFill = (performance.now() - t0) / 1000;

  const stores: Record<Backend, Store> = {
    sqlite: await openStore({ path: file, actor: ACTOR }),
    postgres: await openStore({ url: pgUrl, schema, actor: ACTOR }),
  };
  const raw = openRawDatabase(file);
  try {
    const header = wantHeader ? runHeader({ berth: await storePragmas(stores.sqlite), raw }, dir) : undefined;
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
    const sample = uniquePrefixSample(fixture, size, LOOKUP_KEYS);
    const ids = sample.map((i) => fixture.id(i));
    const names = sample.map((i) => fixture.name(i));
    const prefixes = ids.map((id) => id.slice(0, 8));
    const at = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;
    const rawPrefix = (p: string): Container => {
      const rows = byPrefix.all(p, p + '\u{10FFFF}');
      if (rows.length !== 1) throw new Error(`raw prefix lookup of ${p} found ${rows.length}`);
      return toObject(rows[0]);
    };

    const lookups: [string, (s: Store, i: number) => Promise<Container>, (i: number) => Container][] = [
      ['lookupContainer(id)', (s, i) => s.lookupContainer(at(ids, i)), (i) => toObject(byId.get(at(ids, i)))],
      ['lookupContainer(name)', (s, i) => s.lookupContainer(at(names, i)), (i) => toObject(byName.get(at(names, i)))],
      ['lookupContainer(prefix8)', (s, i) => s.lookupContainer(at(prefixes, i)), (i) => rawPrefix(at(prefixes, i))],
    ];
    // Same work: every side returns the same object for the same input.
    for (const [op, berth, rawOp] of lookups) {
      for (const i of [0, 1, 2]) {
        const want = rawOp(i);
        for (const b of ['sqlite', 'postgres'] as const) {
          if (!isDeepStrictEqual(await berth(stores[b], i), want))
            throw new Error(`${op}: ${b} and raw disagree on ${i}`);
        }
      }
    }

    const results: BackendResult[] = [];
    for (const [op, berth, rawOp] of lookups) {
      const sides = await compareSides(
        { sqlite: (i) => berth(stores.sqlite, i), postgres: (i) => berth(stores.postgres, i), raw: rawOp },
        { batches: quick ? 40 : 80, opsPerBatch: 20 },
      );
      results.push({ size, op, sides, pgOverSqlite: ratio(sides) });
    }

    const reps = size >= 10_000 ? (quick ? 6 : 12) : quick ? 15 : 30;
    const listing = await compareSides(
      {
        sqlite: () => stores.sqlite.allContainers(),
        postgres: () => stores.postgres.allContainers(),
        raw: () => everything.all().map(toObject),
      },
      { batches: reps, opsPerBatch: 1, warmupBatches: 1 },
    );
    results.push({ size, op: 'allContainers', sides: listing, pgOverSqlite: ratio(listing) });

    // Adds last: the reads above ran on exactly `size` containers.
    const adds = await compareAdds(
      {
        sqlite: (c) => stores.sqlite.addContainer(c),
        postgres: (c) => stores.postgres.addContainer(c),
        raw: rawAdder(raw),
      },
      fixture,
      size,
      quick ? 100 : 200,
    );
    results.push({ size, op: 'addContainer (durable)', sides: adds, pgOverSqlite: ratio(adds) });
    return { results, fillSeconds: { sqlite: sqliteFill, postgres: pgFill }, ...(header ? { header } : {}) };
  } finally {
    raw.close();
    await stores.sqlite.close();
    await stores.postgres.close();
  }
}

/** Uncontended lock -> readState -> writeState -> unlock cycles in this process, sides alternating. */
async function uncontended(stores: Record<Backend, Store>, quick: boolean): Promise<BackendResult> {
  const cycle = (b: Backend) => async (): Promise<void> => {
    const ws = stores[b].workspaces;
    const lock = await ws.lock(WORKSPACE, { operation: 'bench' });
    const current = await ws.readState(WORKSPACE);
    const counter = (current.state as { counter?: number } | null)?.counter ?? 0;
    await ws.writeState(WORKSPACE, { counter: counter + 1 }, { lockId: lock.id });
    await ws.unlock(WORKSPACE, lock.id);
  };
  const sides = await compareSides(
    { sqlite: cycle('sqlite'), postgres: cycle('postgres') },
    { batches: quick ? 15 : 30, opsPerBatch: 10 },
  );
  return { size: null, op: 'lock+read+write+unlock cycle', sides, pgOverSqlite: ratio(sides) };
}

/** PROCESSES processes each running `cycles` lock cycles on one workspace: total cycles/s. */
async function contention(
  backend: Backend,
  target: { path?: string; url?: string; schema?: string },
  store: Store,
  cycles: number,
): Promise<ContentionResult> {
  const before = (await store.workspaces.readState(WORKSPACE)).state as { counter?: number } | null;
  const execArgv = ['--import', 'tsx'];
  const children = Array.from({ length: PROCESSES }, () =>
    spawn(process.execPath, [...execArgv, WORKER, JSON.stringify(target), WORKSPACE, String(cycles)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const messages = children.map((child) => {
    const queue: Record<string, unknown>[] = [];
    const waiters: (() => void)[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      queue.push(JSON.parse(line) as Record<string, unknown>);
      for (const w of waiters.splice(0)) w();
    });
    child.on('exit', () => {
      for (const w of waiters.splice(0)) w();
    });
    return async (): Promise<Record<string, unknown>> => {
      while (queue.length === 0) {
        if (child.exitCode !== null) throw new Error(`${backend} contention worker exited early`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
      return queue.shift()!;
    };
  });
  try {
    await Promise.all(messages.map((next) => next()));
    const started = performance.now();
    for (const child of children) child.stdin!.write('go\n');
    const done = await Promise.all(messages.map((next) => next()));
    const seconds = (performance.now() - started) / 1000;
    for (const d of done) if (!d.done) throw new Error(`${backend} contention worker failed: ${JSON.stringify(d)}`);
    const after = (await store.workspaces.readState(WORKSPACE)).state as { counter?: number } | null;
    return {
      backend,
      processes: PROCESSES,
      cyclesPerProcess: cycles,
      seconds,
      cyclesPerSec: (PROCESSES * cycles) / seconds,
      counterOk: (after?.counter ?? 0) - (before?.counter ?? 0) === PROCESSES * cycles,
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** Runs the backend comparison; see {@link BackendsReport}. */
export async function runBackendsBench(opts: BackendsBenchOptions): Promise<BackendsReport> {
  const { dataDir, print, quick } = opts;
  mkdirSync(dataDir, { recursive: true });
  const pgUrl = benchPgUrl();
  let info: { version: string; settings: Record<string, string> };
  try {
    info = await serverInfo(pgUrl);
  } catch (err) {
    const skipped = `PostgreSQL at ${pgUrl} is not reachable (${err instanceof Error ? err.message : String(err)}); set BENCH_PG_URL`;
    print(`\n== backends: skipped: ${skipped} ==`);
    return { name: 'backends', header: null, postgres: null, results: [], contention: [], misses: [], skipped };
  }
  const fixture = new ContainerFixture();
  const schemas: string[] = [];
  const results: BackendResult[] = [];
  const contended: ContentionResult[] = [];
  let header: RunHeader | null = null;
  try {
    for (const size of SIZES) {
      const run = await benchSize(size, dataDir, pgUrl, fixture, schemas, quick, header === null);
      if (run.header) {
        header = run.header;
        print(opts.formatHeader(header));
        print(
          `postgres  ${info.version} at ${pgUrl} (${Object.entries(info.settings)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')})`,
        );
      }
      print(
        `\n(filled ${size.toLocaleString('en-US')} containers: sqlite ${run.fillSeconds.sqlite.toFixed(1)}s, postgres via copyStoreTo ${run.fillSeconds.postgres.toFixed(1)}s)`,
      );
      results.push(...run.results);
      collectGarbage();
    }

    // Locks: fresh, small stores on both backends.
    const lockFile = join(dataDir, 'backends-locks.db');
    const lockSchema = `bench_${randomBytes(5).toString('hex')}`;
    schemas.push(lockSchema);
    const targets: Record<Backend, { path?: string; url?: string; schema?: string }> = {
      sqlite: { path: lockFile },
      postgres: { url: pgUrl, schema: lockSchema },
    };
    const stores: Record<Backend, Store> = {
      sqlite: await openStore({ ...targets.sqlite, actor: ACTOR }),
      postgres: await openStore({ ...targets.postgres, actor: ACTOR }),
    };
    try {
      for (const b of ['sqlite', 'postgres'] as const) {
        await stores[b].workspaces.create(WORKSPACE);
        await stores[b].workspaces.writeState(WORKSPACE, { counter: 0 });
      }
      results.push(await uncontended(stores, quick));
      const cycles = quick ? 25 : 50;
      for (const b of ['sqlite', 'postgres'] as const)
        contended.push(await contention(b, targets[b], stores[b], cycles));
    } finally {
      await stores.sqlite.close();
      await stores.postgres.close();
    }
  } finally {
    if (process.env.BENCH_KEEP !== '1' && schemas.length > 0) {
      await withClient(pgUrl, async (c) => {
        for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      });
    }
  }
  print(formatReport(results, contended));
  return {
    name: 'backends',
    header,
    postgres: { url: pgUrl, ...info },
    results,
    contention: contended,
    misses: contended.filter((c) => !c.counterOk).map((c) => `${c.backend}: contention lost updates`),
  };
}

function formatReport(results: readonly BackendResult[], contended: readonly ContentionResult[]): string {
  const cell = (s: Sample | undefined, f: (x: Sample) => string): string => (s ? f(s) : '-');
  const rows = results.map((r) => [
    r.op,
    r.size === null ? '-' : r.size.toLocaleString('en-US'),
    cell(r.sides.sqlite, (s) => formatUs(s.medianUs)),
    cell(r.sides.postgres, (s) => formatUs(s.medianUs)),
    cell(r.sides.raw, (s) => formatUs(s.medianUs)),
    cell(r.sides.sqlite, (s) => formatUs(s.p99Us)),
    cell(r.sides.postgres, (s) => formatUs(s.p99Us)),
    cell(r.sides.sqlite, (s) => formatRate(s.opsPerSec)),
    cell(r.sides.postgres, (s) => formatRate(s.opsPerSec)),
    Number.isFinite(r.pgOverSqlite) ? `${r.pgOverSqlite.toFixed(1)}x` : '-',
  ]);
  const sqlite = contended.find((c) => c.backend === 'sqlite');
  const postgres = contended.find((c) => c.backend === 'postgres');
  if (sqlite && postgres) {
    rows.push([
      `${PROCESSES}-process contention, ${sqlite.cyclesPerProcess} cycles each (cycles/s)`,
      '-',
      formatUs(1e6 / sqlite.cyclesPerSec),
      formatUs(1e6 / postgres.cyclesPerSec),
      '-',
      '-',
      '-',
      formatRate(sqlite.cyclesPerSec),
      formatRate(postgres.cyclesPerSec),
      `${(sqlite.cyclesPerSec / postgres.cyclesPerSec).toFixed(1)}x`,
    ]);
  }
  const lost = contended.filter((c) => !c.counterOk).map((c) => `LOST UPDATES on ${c.backend}`);
  return [
    '\n== backends: SQLite vs PostgreSQL (p50 per op; raw = better-sqlite3 on the same file) ==',
    formatTable(
      ['op', 'size', 'sqlite p50', 'pg p50', 'raw p50', 'sqlite p99', 'pg p99', 'sqlite op/s', 'pg op/s', 'pg/sqlite'],
      rows,
    ),
    ...lost,
  ].join('\n');
}
