import type BetterSqlite3 from 'better-sqlite3';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError } from '../../errors.js';
import { mapDriverError } from '../driver-errors.js';
import { runMigrations, type AppliedMigration, type MigrationReport, type MigrationTarget } from '../migrations.js';
import type { StoreFile } from './store-path.js';

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
 * killed takes its lock over instead of giving up just before it could. Only a lock
 * held by another (ELOCKED) is waited for: any other error fails at once.
 */
export const MIGRATE_LOCK_RETRIES = {
  retries: 4 + Math.ceil((MIGRATE_LOCK_STALE_MS + 10_000) / 500),
  minTimeout: 50,
  maxTimeout: 500,
};

function sqliteTarget(db: BetterSqlite3.Database, store: StoreFile): MigrationTarget {
  const file = store.path;
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
      // Beside the real file: every name of the store (a link) must meet at one lock.
      const lockfilePath = `${store.realPath}.migrate.lock`;
      const { retries, minTimeout, maxTimeout } = MIGRATE_LOCK_RETRIES;
      let release: (() => Promise<void>) | undefined;
      for (let attempt = 0; release === undefined; attempt++) {
        try {
          release = await lockfile.lock(store.realPath, {
            realpath: false,
            lockfilePath,
            stale: MIGRATE_LOCK_STALE_MS,
            retries: 0,
            // The default throws from a timer and kills the process; a lock that could not
            // be refreshed (disk full, read-only) only means another migrator may take it
            // over, and each migration is its own transaction with a unique bookkeeping row.
            onCompromised: () => undefined,
          });
        } catch (err) {
          if ((err as { code?: unknown }).code !== 'ELOCKED') {
            throw mapDriverError(err, file, {
              subject: `the migration lock of store ${file}`,
              path: lockfilePath,
            });
          }
          if (attempt >= retries) {
            throw new BerthError(
              'STORE_BUSY',
              `another process has been migrating store ${file} for too long (${(err as Error).message}); retry, or remove the stale ${lockfilePath} folder if no berth process is running`,
              { details: { store: file, lock: lockfilePath }, cause: err },
            );
          }
          await sleep(Math.min(minTimeout * 2 ** attempt, maxTimeout));
        }
      }
      try {
        return await fn();
      } finally {
        // A lock that cannot be removed (read-only now) goes stale by itself: the result stands.
        await release().catch(() => undefined);
      }
    },
    async afterMigrations() {
      // A migration may rewrite whole tables: hand that WAL back to the disk now rather
      // than at the next automatic checkpoint. Readers elsewhere may keep it: then later.
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // Busy: the next checkpoint does it.
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
  store: StoreFile,
  opts: { readonly: boolean; create?: boolean; now: () => number; actor: string },
): Promise<MigrationReport> {
  return runMigrations(sqliteTarget(db, store), opts);
}
