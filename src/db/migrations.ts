import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BerthError } from '../errors.js';
import { mapDriverError } from './driver-errors.js';
import type { Backend, MigrationReport } from './backend.js';

/** One numbered, forward-only migration file. */
export interface MigrationFile {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

const FILE_PATTERN = /^(\d{3,})-([a-z0-9-]+)\.sql$/;
const cache = new Map<Backend, MigrationFile[]>();

/** The migrations shipped for a backend, in order; read once per process. */
export function loadMigrations(backend: Backend): MigrationFile[] {
  const cached = cache.get(backend);
  if (cached) return cached;
  // src/db and dist/db both sit two levels below the package root.
  const dir = fileURLToPath(new URL(`../../migrations/${backend}/`, import.meta.url));
  const files: MigrationFile[] = [];
  for (const file of readdirSync(dir).sort()) {
    const match = FILE_PATTERN.exec(file);
    if (!match) continue;
    const sql = readFileSync(dir + file, 'utf8');
    files.push({
      version: Number(match[1]),
      name: match[2]!,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  files.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new BerthError(
        'INTERNAL',
        `migration ${m.version}-${m.name} is out of sequence; expected version ${i + 1}`,
      );
    }
  });
  cache.set(backend, files);
  return files;
}

/** An applied migration as the bookkeeping table records it. */
export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
}

/**
 * Compares what a store has applied with what this code ships: a newer store is refused
 * untouched, an edited applied file is refused. Returns the migrations still to apply.
 */
export function planMigrations(
  applied: readonly AppliedMigration[],
  known: readonly MigrationFile[],
  location: string,
): MigrationFile[] {
  const latest = known.length;
  const newest = applied.reduce((max, m) => Math.max(max, m.version), 0);
  if (newest > latest) {
    throw new BerthError(
      'SCHEMA_TOO_NEW',
      `store ${location} has schema version ${newest} but this berth knows only up to ${latest}; upgrade berth to use this store (it was left untouched)`,
      { details: { storeVersion: newest, codeVersion: latest } },
    );
  }
  for (const m of applied) {
    const file = known[m.version - 1];
    if (file && file.checksum !== m.checksum) {
      throw new BerthError(
        'MIGRATION_CHECKSUM_MISMATCH',
        `store ${location}: migration ${m.version}-${m.name} differs from the file that was applied; restore the original migrations/${m.version}-${m.name}.sql (applied migrations are never edited)`,
        { details: { version: m.version, expected: m.checksum, actual: file.checksum } },
      );
    }
  }
  const done = new Set(applied.map((m) => m.version));
  return known.filter((m) => !done.has(m.version));
}

export type { MigrationReport };

/** Runs statements inside one transaction of a migration. */
export type MigrationStatement = (sql: string, params?: readonly unknown[]) => Promise<void>;

/**
 * What the migration runner needs from a backend (db/<backend>/migrator.ts): reading the
 * bookkeeping table, a cross-process lock, and a transaction to apply one file in.
 */
export interface MigrationTarget {
  readonly backend: Backend;
  /** Where the store lives, for messages. */
  readonly location: string;
  /** The bookkeeping table of this backend. */
  readonly bookkeepingDdl: string;
  /** The placeholder of the i-th (1-based) statement parameter. */
  placeholder(i: number): string;
  /** The migrations the store has applied (none for a new store). */
  readApplied(): Promise<AppliedMigration[]>;
  /** Runs `fn` holding the store's cross-process migration lock. */
  withLock<T>(fn: () => Promise<T>): Promise<T>;
  /** Tidies up after migrations were applied (SQLite: empties the WAL they filled). */
  afterMigrations?(): Promise<void>;
  /** Runs `fn` in one transaction: all of its statements commit, or none. */
  transaction(fn: (run: MigrationStatement) => Promise<void>): Promise<void>;
}

/**
 * Brings a store up to this code's schema (graphile-worker's shape): checks first
 * without any lock (the common case: nothing to do); otherwise, under the backend's
 * cross-process lock, applies each pending file in its own transaction, writing its
 * bookkeeping row first and journaling it as a `store.migrate` event. A store newer
 * than the code is refused untouched; where there is no berth store yet, a read-only or
 * `create: false` open creates nothing (no schema, no table).
 * @throws SCHEMA_TOO_NEW, MIGRATION_CHECKSUM_MISMATCH, NO_SUCH_STORE, INVALID_ARGUMENT
 *   (read-only handle on an old schema), and the backend's storage errors
 */
export async function runMigrations(
  target: MigrationTarget,
  opts: { readonly: boolean; create?: boolean; now: () => number; actor: string },
): Promise<MigrationReport> {
  const known = loadMigrations(target.backend);
  const plan = async (): Promise<{ applied: AppliedMigration[]; pending: MigrationFile[] }> => {
    try {
      const applied = await target.readApplied();
      return { applied, pending: planMigrations(applied, known, target.location) };
    } catch (err) {
      throw mapDriverError(err, target.location);
    }
  };
  const first = await plan();
  const from = first.applied.length;
  if (first.pending.length === 0) return { from, to: from, applied: [] };
  if (from === 0 && (opts.readonly || opts.create === false)) {
    throw new BerthError(
      'NO_SUCH_STORE',
      `store ${target.location} does not exist (no berth store there yet); create it with \`berth init\`, or open it without readonly`,
      { details: { store: target.location } },
    );
  }
  if (opts.readonly) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `store ${target.location} is at schema version ${from} and needs version ${known.length}; open it once without readonly (or run \`berth migrate\`)`,
      { details: { storeVersion: from, codeVersion: known.length } },
    );
  }
  return target.withLock(async () => {
    const { applied, pending } = await plan();
    const p = (i: number): string => target.placeholder(i);
    const names: string[] = [];
    for (const m of pending) {
      try {
        await target.transaction(async (run) => {
          await run(target.bookkeepingDdl);
          await run(
            `INSERT INTO berth_migrations (version, name, checksum, applied_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})`,
            [m.version, m.name, m.checksum, opts.now()],
          );
          await run(m.sql);
          // Every change is journaled, schema changes included (the events table exists from 001 on).
          await run(
            `INSERT INTO events (ts, namespace, type, subject_kind, subject_name, actor, data_json) VALUES (${p(1)}, '', 'store.migrate', 'store', ${p(2)}, ${p(3)}, ${p(4)})`,
            [
              opts.now(),
              `${m.version}-${m.name}`,
              opts.actor,
              JSON.stringify({ version: m.version, checksum: m.checksum }),
            ],
          );
        });
      } catch (err) {
        throw mapDriverError(err, target.location);
      }
      names.push(`${m.version}-${m.name}`);
    }
    if (names.length > 0) await target.afterMigrations?.();
    return { from: applied.length, to: known.length, applied: names };
  });
}
