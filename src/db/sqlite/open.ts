import BetterSqlite3 from 'better-sqlite3';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { BerthError } from '../../errors.js';
import { mapDriverError } from '../driver-errors.js';
import type { BackendOpenOptions, OpenedBackend } from '../executor.js';
import { SqliteExecutor } from './executor.js';
import { migrateSqlite } from './migrator.js';
import type { MigrationReport } from '../migrations.js';

/** Options of {@link openSqliteDatabase}. */
export interface SqliteOpenOptions {
  readonly: boolean;
  busyTimeoutMs: number;
}

/**
 * Opens the store's one connection with berth's pragmas. A missing store is created:
 * its folder 0700 and its file 0600 (SQLite gives -wal and -shm the file's mode).
 */
export function openSqliteDatabase(file: string, opts: SqliteOpenOptions): BetterSqlite3.Database {
  try {
    if (!opts.readonly && !existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      closeSync(openSync(file, 'a', 0o600));
    }
    const db = new BetterSqlite3(file, {
      readonly: opts.readonly,
      fileMustExist: true,
      // Wait this long for another process's write transaction instead of failing at once.
      timeout: opts.busyTimeoutMs,
    });
    try {
      // Checks the header before anything writes: a foreign file fails here, untouched.
      const tables = db
        .prepare(
          "SELECT count(*) AS n, coalesce(sum(name = 'berth_migrations'), 0) AS berth FROM sqlite_master WHERE type = 'table'",
        )
        .get() as { n: number; berth: number };
      // Another program's database: refuse it rather than adding berth's tables to it.
      if (tables.n > 0 && tables.berth === 0) {
        throw new BerthError(
          'STORE_CORRUPT',
          `${file} is a SQLite database of another program, not a berth store; it was left untouched — choose another --store path`,
          { details: { store: file } },
        );
      }
      if (!opts.readonly) {
        // WAL: readers never wait for the writer, and the writer never waits for readers.
        db.pragma('journal_mode = WAL');
      }
      // FULL: a committed transaction survives power loss, not only a process crash.
      db.pragma('synchronous = FULL');
      // Rows that reference others (pods, dependencies, volumes) are checked by the database too.
      db.pragma('foreign_keys = ON');
      return db;
    } catch (err) {
      db.close();
      throw err;
    }
  } catch (err) {
    throw mapDriverError(err, file);
  }
}

interface SharedSqlite {
  exec: SqliteExecutor;
  migration: MigrationReport;
  refs: number;
}

/**
 * One connection per store file per process (DESIGN.md §1): every handle opened on the
 * same file shares it, so calls from all handles are serialised on it. Two connections
 * in one process would block the event loop on each other's write lock until the busy
 * timeout.
 */
const openFiles = new Map<string, Promise<SharedSqlite>>();

/** Opens (creating and migrating if needed) a SQLite store, sharing its connection. */
export async function openSqlite(path: string, opts: BackendOpenOptions): Promise<OpenedBackend> {
  const key = `${opts.readonly ? 'ro' : 'rw'}:${path}`;
  let pending = openFiles.get(key);
  if (!pending) {
    pending = (async () => {
      const db = openSqliteDatabase(path, opts);
      try {
        const migration = await migrateSqlite(db, path, {
          readonly: opts.readonly,
          now: opts.clock,
          actor: opts.actor,
        });
        return { exec: new SqliteExecutor(db, path), migration, refs: 0 };
      } catch (err) {
        db.close();
        throw err;
      }
    })();
    openFiles.set(key, pending);
    pending.catch(() => openFiles.delete(key));
  }
  const shared = await pending;
  // The last handle closed the connection while this one waited: open it afresh.
  if (openFiles.get(key) !== pending) return openSqlite(path, opts);
  shared.refs++;
  let released = false;
  return {
    exec: shared.exec,
    migration: shared.migration,
    release: async () => {
      if (released) return;
      released = true;
      if (--shared.refs === 0) {
        openFiles.delete(key);
        await shared.exec.close();
      }
    },
  };
}
