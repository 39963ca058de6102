import BetterSqlite3 from 'better-sqlite3';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * Shared pieces of berth's benchmarks (STYLE.md habit 11): timing, percentiles, the
 * machine/pragma header, the raw better-sqlite3 baseline connection, tables and JSON.
 */

/** The repository root (bench/ lives directly under it). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where `bench/run.ts` writes `<name>.json` (gitignored). */
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

/** One measured operation: µs per op over repeated batches. */
export interface Sample {
  /** Median of the per-batch mean µs/op. */
  medianUs: number;
  /** 99th percentile of the per-batch mean µs/op (the max when there are < 100 batches). */
  p99Us: number;
  meanUs: number;
  /** 1e6 / medianUs. */
  opsPerSec: number;
  batches: number;
  opsPerBatch: number;
}

/** A berth call and the same work done with raw better-sqlite3, measured in one run. */
export interface Comparison {
  berth: Sample;
  raw: Sample;
  /** berth median / raw median. */
  ratio: number;
}

/** An operation under test: sync (raw) or async (berth's API); `i` picks the input. */
export type Op = (i: number) => unknown;

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Summarises per-batch mean µs/op values. */
export function summarise(perBatchUs: readonly number[], opsPerBatch: number): Sample {
  const sorted = [...perBatchUs].sort((a, b) => a - b);
  const medianUs = percentile(sorted, 50);
  return {
    medianUs,
    p99Us: percentile(sorted, 99),
    meanUs: sorted.reduce((s, x) => s + x, 0) / sorted.length,
    opsPerSec: 1e6 / medianUs,
    batches: sorted.length,
    opsPerBatch,
  };
}

/** Mean µs/op of `n` calls of `op`, from input `start` on; promises are awaited one by one. */
export async function timeBatch(op: Op, start: number, n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const r = op(start + i);
    if (r instanceof Promise) await r;
  }
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

/** Options of {@link compare}. */
export interface CompareOptions {
  batches: number;
  opsPerBatch: number;
  /** Unmeasured batches run first on each side (JIT, statement cache, page cache). */
  warmupBatches?: number;
}

/**
 * Measures berth and raw in alternating batches, so drift (thermal, page cache, GC) hits
 * both sides alike.
 */
export async function compare(berth: Op, raw: Op, opts: CompareOptions): Promise<Comparison> {
  const { batches, opsPerBatch } = opts;
  const warmup = opts.warmupBatches ?? Math.max(2, Math.ceil(batches / 10));
  let cursor = 0;
  for (let b = 0; b < warmup; b++) {
    await timeBatch(berth, cursor, opsPerBatch);
    await timeBatch(raw, cursor, opsPerBatch);
    cursor += opsPerBatch;
  }
  collectGarbage();
  const berthUs: number[] = [];
  const rawUs: number[] = [];
  for (let b = 0; b < batches; b++) {
    // Swap the order every batch: neither side always runs right after the other's garbage.
    if (b % 2 === 0) {
      berthUs.push(await timeBatch(berth, cursor, opsPerBatch));
      rawUs.push(await timeBatch(raw, cursor, opsPerBatch));
    } else {
      rawUs.push(await timeBatch(raw, cursor, opsPerBatch));
      berthUs.push(await timeBatch(berth, cursor, opsPerBatch));
    }
    cursor += opsPerBatch;
  }
  const b = summarise(berthUs, opsPerBatch);
  const r = summarise(rawUs, opsPerBatch);
  return { berth: b, raw: r, ratio: b.medianUs / r.medianUs };
}

/** A {@link Sample} with the CPU time the process spent per op (user + system, all threads). */
export interface CpuSample extends Sample {
  /** Median of the per-batch mean CPU µs/op: on a busy machine, less inflated than wall time. */
  cpuUs: number;
}

/**
 * Orders of `n` sides, one per batch, in which every side runs first equally often and
 * follows every other side equally often (a Williams design; odd `n` adds the mirror
 * rows). A plain rotation would keep the same neighbour before each side in every
 * batch, so one side would always pay for the work its neighbour leaves behind (a
 * file-replacing side's fsync and rename, say, on the next side's commit).
 */
export function balancedOrders(n: number): number[][] {
  const first: number[] = [];
  for (let i = 0, lo = 0, hi = n - 1; i < n; i++) first.push(i % 2 === 0 ? lo++ : hi--);
  const rows = Array.from({ length: n }, (_, shift) => first.map((x) => (x + shift) % n));
  return n % 2 === 0 ? rows : [...rows, ...rows.map((r) => [...r].reverse())];
}

/**
 * Like {@link compare} for any number of sides: alternating batches, in the orders of
 * {@link balancedOrders}, so that each side runs first and follows each other side
 * equally often. Also records the process's CPU time per batch.
 */
export async function compareSides<K extends string>(
  sides: Readonly<Record<K, Op>>,
  opts: CompareOptions,
): Promise<Record<K, CpuSample>> {
  const names = Object.keys(sides) as K[];
  const { batches, opsPerBatch } = opts;
  const warmup = opts.warmupBatches ?? Math.max(2, Math.ceil(batches / 10));
  let cursor = 0;
  for (let b = 0; b < warmup; b++) {
    for (const name of names) await timeBatch(sides[name], cursor, opsPerBatch);
    cursor += opsPerBatch;
  }
  collectGarbage();
  const us = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  const cpu = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  const orders = balancedOrders(names.length);
  for (let b = 0; b < batches; b++) {
    for (const k of orders[b % orders.length]!) {
      const name = names[k]!;
      const c0 = process.cpuUsage();
      us[name].push(await timeBatch(sides[name], cursor, opsPerBatch));
      const c = process.cpuUsage(c0);
      cpu[name].push((c.user + c.system) / opsPerBatch);
    }
    cursor += opsPerBatch;
  }
  return Object.fromEntries(
    names.map((n) => [
      n,
      {
        ...summarise(us[n], opsPerBatch),
        cpuUs: percentile(
          cpu[n].sort((a, b) => a - b),
          50,
        ),
      },
    ]),
  ) as Record<K, CpuSample>;
}

/** Runs a full GC when node was started with --expose-gc; a no-op otherwise. */
export function collectGarbage(): void {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
}

/** Whether {@link collectGarbage} really collects. */
export function gcAvailable(): boolean {
  return typeof globalThis.gc === 'function';
}

// ---------------------------------------------------------------- SQLite

/** Options of berth's connection that the raw baseline copies (src/db/sqlite/open.ts). */
export const BERTH_BUSY_TIMEOUT_MS = 5000;
/** openStore's default page cache (src/open-store.ts cacheSizeKiB), in KiB. */
export const BERTH_CACHE_SIZE_KIB = 16384;

/**
 * A raw better-sqlite3 connection with berth's pragmas: WAL, synchronous=FULL,
 * foreign_keys=ON, a 5 s busy timeout and berth's default page cache, so the baseline
 * pays for the same durability and caches as much.
 */
export function openRawDatabase(file: string): BetterSqlite3.Database {
  const db = new BetterSqlite3(file, { timeout: BERTH_BUSY_TIMEOUT_MS });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma(`cache_size = -${BERTH_CACHE_SIZE_KIB}`);
  return db;
}

/** Applies one of berth's migration files as-is (the raw baseline's schema). */
export function applyMigrationFile(db: BetterSqlite3.Database, relativePath: string): void {
  const sql = readFileSync(join(REPO_ROOT, relativePath), 'utf8');
  db.transaction(() => db.exec(sql)).immediate();
}

const SYNCHRONOUS = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const;
const TEMP_STORE = ['DEFAULT', 'FILE', 'MEMORY'] as const;

/** The pragmas in effect on a connection, read back (they are per connection). */
export function readPragmas(db: BetterSqlite3.Database): Record<string, string> {
  const one = (name: string): unknown => db.pragma(name, { simple: true });
  const num = (name: string): number => Number(one(name));
  return {
    journal_mode: String(one('journal_mode')),
    synchronous: SYNCHRONOUS[num('synchronous')] ?? String(num('synchronous')),
    foreign_keys: num('foreign_keys') === 1 ? 'ON' : 'OFF',
    busy_timeout: `${num('busy_timeout')} ms`,
    locking_mode: String(one('locking_mode')),
    page_size: String(num('page_size')),
    cache_size: String(num('cache_size')),
    mmap_size: String(num('mmap_size')),
    temp_store: TEMP_STORE[num('temp_store')] ?? String(num('temp_store')),
    wal_autocheckpoint: String(num('wal_autocheckpoint')),
  };
}

/** The SQLite library version behind a connection. */
export function sqliteVersion(db: BetterSqlite3.Database): string {
  return String(db.prepare('SELECT sqlite_version()').pluck().get());
}

// ---------------------------------------------------------------- header

/** What machine, runtime and database settings a run measured. */
export interface RunHeader {
  date: string;
  node: string;
  v8: string;
  platform: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  /** 1, 5 and 15 minute load averages when the bench started measuring. */
  load: number[];
  sqlite: string;
  betterSqlite3: string;
  gc: boolean;
  dataDir: string;
  /** Pragmas per connection, e.g. { berth: {...}, raw: {...} }. */
  pragmas: Record<string, Record<string, string>>;
}

/** Collects the run header; `connections` are read back with PRAGMA queries. */
export function runHeader(
  connections: Record<string, BetterSqlite3.Database | Record<string, string>>,
  dataDir: string,
): RunHeader {
  const first = Object.values(connections).find((c): c is BetterSqlite3.Database => typeof c.pragma === 'function');
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8')) as {
    version: string;
  };
  const pragmas: Record<string, Record<string, string>> = {};
  for (const [name, db] of Object.entries(connections)) {
    pragmas[name] =
      typeof db.pragma === 'function' ? readPragmas(db as BetterSqlite3.Database) : (db as Record<string, string>);
  }
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${platform()} ${release()} ${arch()}`,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    load: loadavg().map((x) => Math.round(x * 100) / 100),
    sqlite: first ? sqliteVersion(first) : 'unknown',
    betterSqlite3: pkg.version,
    gc: gcAvailable(),
    dataDir,
    pragmas,
  };
}

/** True when other work competed for the CPU (1-minute load above half the cores). */
export function busy(h: RunHeader): boolean {
  return (h.load[0] ?? 0) > h.cores / 2;
}

/** The header as text: machine lines, then a pragma table with one column per connection. */
export function formatHeader(h: RunHeader): string {
  const lines = [
    `date      ${h.date}`,
    `node      ${h.node} (v8 ${h.v8})${h.gc ? '' : '  -- no --expose-gc: memory figures are noisy'}`,
    `platform  ${h.platform}`,
    `cpu       ${h.cpu}, ${h.cores} cores, ${h.memoryGiB} GiB`,
    `load      ${h.load.join(' ')}${busy(h) ? '  -- the machine is busy: absolute figures are inflated, compare ratios' : ''}`,
    `sqlite    ${h.sqlite} (better-sqlite3 ${h.betterSqlite3})`,
    `data dir  ${h.dataDir}`,
  ];
  const names = Object.keys(h.pragmas);
  const keys = Object.keys(h.pragmas[names[0]!] ?? {});
  const rows = keys.map((k) => {
    const values = names.map((n) => h.pragmas[n]![k] ?? '');
    const same = values.every((v) => v === values[0]);
    return [k, ...values, same ? '' : 'DIFFERS'];
  });
  return `${lines.join('\n')}\n\n${formatTable(['pragma', ...names, ''], rows)}`;
}

// ---------------------------------------------------------------- output

/** A plain aligned text table; columns whose cells look numeric are right-aligned. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const numeric = headers.map((_, c) => rows.length > 0 && rows.every((r) => /^[-\d.,]+[a-zµ/%x]*$/i.test(r[c] ?? '')));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (numeric[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** µs with a precision that suits the magnitude. */
export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return '-';
  if (us >= 1000) return `${(us / 1000).toFixed(2)}ms`;
  if (us >= 100) return `${us.toFixed(0)}µs`;
  if (us >= 10) return `${us.toFixed(1)}µs`;
  return `${us.toFixed(2)}µs`;
}

/** Ops per second, rounded to three significant digits. */
export function formatRate(opsPerSec: number): string {
  return Math.round(Number(opsPerSec.toPrecision(3))).toLocaleString('en-US');
}

/** Bytes as MiB with one decimal. */
export function formatMiB(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)}MiB`;
}

/** Writes `bench/results/<name>.json` and returns its path. */
export function writeResults(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

// ---------------------------------------------------------------- inputs

/** A small seeded PRNG (mulberry32): the same store contents on every run. */
export { prng as seededRandom } from '../test/helpers/prng.js';

/** Store sizes to run: BENCH_SIZES=1000,10000 wins, then --quick (1k, 10k), else 1k, 10k, 100k. */
export function benchSizes(argv: readonly string[], env: NodeJS.ProcessEnv): number[] {
  const fromEnv = env.BENCH_SIZES?.trim();
  if (fromEnv) {
    const sizes = fromEnv.split(',').map((s) => Number(s.trim().replace(/_/g, '').replace(/k$/i, '000')));
    if (sizes.some((n) => !Number.isInteger(n) || n < 100)) {
      throw new Error(`BENCH_SIZES must be a comma-separated list of integers >= 100, not ${fromEnv}`);
    }
    return sizes;
  }
  return argv.includes('--quick') ? [1_000, 10_000] : [1_000, 10_000, 100_000];
}
