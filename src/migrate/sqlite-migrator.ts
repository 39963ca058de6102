import type BetterSqlite3 from 'better-sqlite3';
import { mapDriverError } from '../db/driver-errors.js';
import { BerthError } from '../errors.js';
import { loadMigrations, planMigrations, type AppliedMigration } from './migration-files.js';

const BOOKKEEPING = `CREATE TABLE IF NOT EXISTS berth_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT`;

/** What a migration run did. */
export interface MigrationReport {
  from: number;
  to: number;
  applied: string[];
}

function readApplied(db: BetterSqlite3.Database): AppliedMigration[] {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'berth_migrations'").get();
  if (!table) return [];
  return db
    .prepare('SELECT version, name, checksum FROM berth_migrations ORDER BY version')
    .all() as AppliedMigration[];
}

/**
 * The migration lock (a folder beside the store) is stale once its holder stopped
 * refreshing it for this long: the holder died mid-migration.
 */
export const MIGRATE_LOCK_STALE_MS = 30_000;
/**
 * A waiter retries for longer than the lock takes to go stale (50, 100, 200, 400 ms,
 * then every 500 ms: about 40 s), so an opener that starts right after a migrator was
 * killed takes its lock over instead of giving up just before it could.
 */
export const MIGRATE_LOCK_RETRIES = {
  retries: 4 + Math.ceil((MIGRATE_LOCK_STALE_MS + 10_000) / 500),
  minTimeout: 50,
  maxTimeout: 500,
};

/**
 * Brings a SQLite store up to this code's schema. Checks first without any lock (the
 * common case: nothing to do); otherwise takes a cross-process lock next to the store
 * and applies each pending migration in its own IMMEDIATE transaction, writing its
 * bookkeeping row first. A store newer than the code is refused untouched.
 */
export async function migrateSqlite(
  db: BetterSqlite3.Database,
  file: string,
  opts: { readonly: boolean; now: () => number; actor: string },
): Promise<MigrationReport> {
  const known = loadMigrations('sqlite');
  let pending: ReturnType<typeof planMigrations>;
  let applied: AppliedMigration[];
  try {
    applied = readApplied(db);
    pending = planMigrations(applied, known, file);
  } catch (err) {
    throw mapDriverError(err, file);
  }
  const from = applied.length;
  if (pending.length === 0) return { from, to: from, applied: [] };
  if (opts.readonly) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `store ${file} is at schema version ${from} and needs version ${known.length}; open it once without readonly (or run \`berth migrate\`)`,
    );
  }
  // Loaded only when there is something to migrate: most opens have nothing to do.
  const { default: lockfile } = await import('proper-lockfile');
  const release = await withRetries(() =>
    lockfile.lock(file, {
      realpath: false,
      lockfilePath: `${file}.migrate.lock`,
      stale: MIGRATE_LOCK_STALE_MS,
      retries: MIGRATE_LOCK_RETRIES,
    }),
  );
  try {
    applied = readApplied(db);
    pending = planMigrations(applied, known, file);
    const names: string[] = [];
    for (const m of pending) {
      try {
        db.exec('BEGIN IMMEDIATE');
        db.exec(BOOKKEEPING);
        db.prepare('INSERT INTO berth_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(
          m.version,
          m.name,
          m.checksum,
          opts.now(),
        );
        db.exec(m.sql);
        // Every change is journaled, schema changes included (the events table exists from 001 on).
        db.prepare(
          "INSERT INTO events (ts, namespace, type, subject_kind, subject_name, actor, data_json) VALUES (?, '', 'store.migrate', 'store', ?, ?, ?)",
        ).run(
          opts.now(),
          `${m.version}-${m.name}`,
          opts.actor,
          JSON.stringify({ version: m.version, checksum: m.checksum }),
        );
        db.exec('COMMIT');
      } catch (err) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw mapDriverError(err, file);
      }
      names.push(`${m.version}-${m.name}`);
    }
    return { from: applied.length, to: known.length, applied: names };
  } finally {
    await release();
  }
}

async function withRetries<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new BerthError(
      'STORE_BUSY',
      `another process has been migrating this store for too long (${(err as Error).message}); retry, or remove the stale .migrate.lock folder if no berth process is running`,
      { cause: err },
    );
  }
}
