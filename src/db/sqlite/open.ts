import BetterSqlite3 from 'better-sqlite3';
import { BerthError } from '../../errors.js';
import { mapDriverError } from '../driver-errors.js';
import type { BackendOpenOptions, OpenedBackend } from '../executor.js';
import { SqliteExecutor } from './executor.js';
import { migrateSqlite } from './migrator.js';
import { assertWritable, prepareStoreFile, type StoreFile } from './store-path.js';
import type { MigrationReport } from '../migrations.js';

/** Options of {@link openSqliteDatabase}. */
export interface SqliteOpenOptions {
  readonly: boolean;
  busyTimeoutMs: number;
  /** The page cache in KiB (default SQLite's build default). */
  cacheSizeKiB?: number;
  /** Create a missing store (default true; never when readonly). */
  create?: boolean;
}

/**
 * Opens the store's one connection with berth's pragmas, on a file prepareStoreFile
 * checked (and created 0600 in a 0700 folder; SQLite gives -wal and -shm its mode).
 * @throws NO_SUCH_STORE (no berth store in it, and it may not be created),
 *   STORE_UNAVAILABLE, STORE_CORRUPT, STORE_BUSY
 */
export function openSqliteDatabase(store: StoreFile, opts: SqliteOpenOptions): BetterSqlite3.Database {
  const create = !opts.readonly && opts.create !== false;
  const file = store.path;
  try {
    if (!opts.readonly) assertWritable(store);
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
          { details: { store: file, foreign: true } },
        );
      }
      // No berth store yet (an empty file): only a handle that may create one goes on, so
      // a read-only or create: false open writes nothing, not even the WAL header.
      if (tables.n === 0 && !create) {
        throw new BerthError('NO_SUCH_STORE', `store ${file} holds no berth store yet; create it with \`berth init\``, {
          details: { store: file },
        });
      }
      if (!opts.readonly) {
        // WAL: readers never wait for the writer, and the writer never waits for readers.
        db.pragma('journal_mode = WAL');
      }
      // FULL: a committed transaction survives power loss, not only a process crash.
      db.pragma('synchronous = FULL');
      // Rows that reference others (pods, dependencies, volumes) are checked by the database too.
      db.pragma('foreign_keys = ON');
      if (opts.cacheSizeKiB !== undefined) db.pragma(`cache_size = -${opts.cacheSizeKiB}`);
      return db;
    } catch (err) {
      db.close();
      throw err;
    }
  } catch (err) {
    throw mapDriverError(err, file, { readonlyHandle: opts.readonly });
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
 * timeout. Keyed by the file's device and inode, so a symbolic or hard link to the
 * store shares the connection too, and a file replaced under the same name does not.
 */
const openFiles = new Map<string, Promise<SharedSqlite>>();

/** Opens (creating and migrating if needed) a SQLite store, sharing its connection. */
export async function openSqlite(path: string, opts: BackendOpenOptions): Promise<OpenedBackend> {
  const create = !opts.readonly && opts.create !== false;
  const file = prepareStoreFile(path, { create });
  const key = `${opts.readonly ? 'ro' : 'rw'}:${file.identity}`;
  let pending = openFiles.get(key);
  if (!pending) {
    pending = (async () => {
      const db = openSqliteDatabase(file, { ...opts, create });
      try {
        const migration = await migrateSqlite(db, file, {
          readonly: opts.readonly,
          create,
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
