import type BetterSqlite3 from 'better-sqlite3';
import { BerthError } from '../../errors.js';
import { runMigrations, type AppliedMigration, type MigrationReport, type MigrationTarget } from '../migrations.js';

/*
 * The SQLite side of the migration runner (db/migrations.ts): the bookkeeping table, a
 * lock folder beside the store (proper-lockfile) for cross-process exclusion, and one
 * IMMEDIATE transaction per migration file.
 */

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

function sqliteTarget(db: BetterSqlite3.Database, file: string): MigrationTarget {
  return {
    backend: 'sqlite',
    location: file,
    bookkeepingDdl: `CREATE TABLE IF NOT EXISTS berth_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT`,
    placeholder: () => '?',
    async readApplied() {
      const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'berth_migrations'").get();
      if (!table) return [];
      return db
        .prepare('SELECT version, name, checksum FROM berth_migrations ORDER BY version')
        .all() as AppliedMigration[];
    },
    async withLock(fn) {
      // Loaded only when there is something to migrate: most opens have nothing to do.
      const { default: lockfile } = await import('proper-lockfile');
      let release: () => Promise<void>;
      try {
        release = await lockfile.lock(file, {
          realpath: false,
          lockfilePath: `${file}.migrate.lock`,
          stale: MIGRATE_LOCK_STALE_MS,
          retries: MIGRATE_LOCK_RETRIES,
        });
      } catch (err) {
        throw new BerthError(
          'STORE_BUSY',
          `another process has been migrating this store for too long (${(err as Error).message}); retry, or remove the stale .migrate.lock folder if no berth process is running`,
          { cause: err },
        );
      }
      try {
        return await fn();
      } finally {
        await release();
      }
    },
    async transaction(fn) {
      // SQLite's way to rebuild a table (lang_altertable.html#otheralter): foreign keys off
      // outside the transaction, so dropping the old table cascades to nothing, and every
      // reference checked before the commit.
      db.pragma('foreign_keys = OFF');
      try {
        db.exec('BEGIN IMMEDIATE');
        try {
          await fn(async (sql, params) => {
            if (params === undefined) db.exec(sql);
            else db.prepare(sql).run(...params);
          });
          const dangling = db.pragma('foreign_key_check') as unknown[];
          if (dangling.length > 0) {
            throw new BerthError(
              'STORE_CORRUPT',
              `store ${file}: ${dangling.length} row(s) would reference missing rows after the migration; nothing was changed — run \`berth doctor\``,
              { details: { dangling: dangling.slice(0, 10) } },
            );
          }
          db.exec('COMMIT');
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw err;
        }
      } finally {
        db.pragma('foreign_keys = ON');
      }
    },
  };
}

/** Brings a SQLite store up to this code's schema (see runMigrations). */
export function migrateSqlite(
  db: BetterSqlite3.Database,
  file: string,
  opts: { readonly: boolean; now: () => number; actor: string },
): Promise<MigrationReport> {
  return runMigrations(sqliteTarget(db, file), opts);
}
