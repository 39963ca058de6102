import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, DummyDriver, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import { BerthError } from '../../errors.js';
import { mapDriverError } from '../driver-errors.js';
import { statSync } from 'node:fs';
import { backupSqlite } from './backup.js';
import type { Executor, QueryRunner, StorageReport, TransactionBody, WriteOptions } from '../executor.js';
import { bindArgs, compileDef, type Params, type QueryDef } from '../query.js';
import { TABLES_IN_DEPENDENCY_ORDER, type Database } from '../schema.js';

/** A kysely instance that only compiles SQLite SQL; it never connects. */
export function createSqliteCompiler(): Kysely<Database> {
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
}

interface Prepared {
  readonly stmt: BetterSqlite3.Statement;
  readonly slots: ReturnType<typeof compileDef>['slots'];
  readonly reader: boolean;
}

/**
 * Runs engine calls on the process's single SQLite connection. Calls are serialised:
 * while one transaction is open (and awaiting), every other call waits its turn, so no
 * statement can slip into another call's transaction.
 */
export class SqliteExecutor implements Executor {
  readonly backend = 'sqlite' as const;
  readonly direct: QueryRunner;
  private readonly compiler = createSqliteCompiler();
  private readonly prepared = new Map<QueryDef<unknown>, Prepared>();
  private readonly beginImmediate: BetterSqlite3.Statement;
  private readonly beginRead: BetterSqlite3.Statement;
  private readonly commit: BetterSqlite3.Statement;
  private readonly rollback: BetterSqlite3.Statement;
  private readonly syncNormal: BetterSqlite3.Statement;
  private readonly syncFull: BetterSqlite3.Statement;
  private readonly tx: QueryRunner;
  private busy = false;
  private readonly waiting: Array<() => void> = [];
  private closed = false;

  constructor(
    readonly db: BetterSqlite3.Database,
    readonly location: string,
  ) {
    // IMMEDIATE takes the write lock up front: a deferred transaction that later upgrades
    // is what produces "database is locked" under contention (podman #17859, #18356).
    this.beginImmediate = db.prepare('BEGIN IMMEDIATE');
    this.beginRead = db.prepare('BEGIN');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.syncNormal = db.prepare('PRAGMA synchronous = NORMAL');
    this.syncFull = db.prepare('PRAGMA synchronous = FULL');
    this.tx = {
      all: (q, p) => this.mapped(() => this.runAll(q, p)),
      get: (q, p) => this.mapped(() => this.runGet(q, p)),
      run: (q, p) => this.mapped(() => this.runRun(q, p)),
      each: (q, p, visit) => this.runEach(q, p, visit),
    };
    this.direct = {
      all: (q, p) => this.serial(() => this.runAll(q, p)),
      get: (q, p) => this.serial(() => this.runGet(q, p)),
      run: (q, p) => this.serial(() => this.runRun(q, p)),
      each: (q, p, visit) => this.serial(() => this.runEach(q, p, visit)),
    };
  }

  write<T>(fn: TransactionBody<T>, opts: WriteOptions = {}): Promise<T> {
    return this.transaction(this.beginImmediate, fn, opts.durable === false);
  }

  read<T>(fn: TransactionBody<T>): Promise<T> {
    return this.transaction(this.beginRead, fn);
  }

  async backup(file: string): Promise<void> {
    this.assertOpen();
    await backupSqlite(this.db, this.location, file);
  }

  async replaceContents(file: string): Promise<void> {
    if (this.busy) await this.waitTurn();
    else this.busy = true;
    try {
      this.assertOpen();
      this.db.prepare('ATTACH DATABASE ? AS restored').run(file);
      try {
        this.beginImmediate.run();
        try {
          // Foreign keys are checked at commit, so tables can be refilled in any order.
          this.db.pragma('defer_foreign_keys = ON');
          // Children go first and come back last, so no cascade touches refilled rows.
          for (const t of [...TABLES_IN_DEPENDENCY_ORDER].reverse()) this.db.exec(`DELETE FROM main."${t}"`);
          for (const t of TABLES_IN_DEPENDENCY_ORDER) {
            this.db.exec(`INSERT INTO main."${t}" SELECT * FROM restored."${t}"`);
          }
          this.commit.run();
        } catch (err) {
          if (this.db.inTransaction) this.rollback.run();
          throw err;
        }
      } finally {
        this.db.exec('DETACH DATABASE restored');
      }
    } catch (err) {
      throw this.fault(err);
    } finally {
      this.release();
    }
  }

  async inspect(): Promise<StorageReport> {
    return this.serial(() => {
      let integrity: string[];
      try {
        integrity = (this.db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
      } catch (err) {
        // Damage bad enough to stop the check itself is still a finding, not a crash.
        integrity = [`integrity check could not finish: ${(err as Error).message}`];
      }
      const attempt = <T>(fn: () => T, fallback: T): T => {
        try {
          return fn();
        } catch (err) {
          integrity.push(`${(err as Error).message}`);
          return fallback;
        }
      };
      const dangling = attempt(
        () =>
          (this.db.pragma('foreign_key_check') as { table: string; rowid: number; parent: string }[]).map(
            (r) => `${r.table} row ${r.rowid} points at a missing ${r.parent} row`,
          ),
        [] as string[],
      );
      const version = attempt(
        () => this.db.prepare('SELECT max(version) AS v FROM berth_migrations').get() as { v: number | null },
        { v: null },
      );
      let sizeBytes = 0;
      for (const suffix of ['', '-wal']) {
        try {
          sizeBytes += statSync(this.location + suffix).size;
        } catch {
          // No WAL file at the moment.
        }
      }
      return {
        schemaVersion: version.v ?? 0,
        integrity,
        danglingReferences: dangling,
        sizeBytes,
        settings: {
          journal_mode: this.db.pragma('journal_mode', { simple: true }) as string,
          synchronous: this.db.pragma('synchronous', { simple: true }) as number,
          foreign_keys: this.db.pragma('foreign_keys', { simple: true }) as number,
          busy_timeout: this.db.pragma('busy_timeout', { simple: true }) as number,
          cache_size: this.db.pragma('cache_size', { simple: true }) as number,
          sqlite_version: (this.db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v,
        },
      };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.busy) await this.waitTurn();
    else this.busy = true;
    if (!this.closed) {
      this.closed = true;
      this.db.close();
    }
    this.release();
  }

  private async transaction<T>(begin: BetterSqlite3.Statement, fn: TransactionBody<T>, relaxed = false): Promise<T> {
    if (this.busy) await this.waitTurn();
    else this.busy = true;
    try {
      this.assertOpen();
      // NORMAL in WAL mode: the commit survives a process crash; a power loss may lose it.
      if (relaxed) this.syncNormal.run();
      try {
        begin.run();
      } catch (err) {
        throw this.fault(err);
      }
      let result: T;
      try {
        // Statement errors arrive mapped; the caller's own errors pass through unchanged.
        result = await fn(this.tx, undefined);
      } catch (err) {
        if (this.db.inTransaction) this.rollback.run();
        throw err;
      }
      try {
        this.commit.run();
      } catch (err) {
        if (this.db.inTransaction) this.rollback.run();
        throw this.fault(err);
      }
      return result;
    } finally {
      if (relaxed && !this.closed) this.syncFull.run();
      this.release();
    }
  }

  /** Runs one statement now if the connection is free, else after the open transaction. */
  private serial<T>(fn: () => T): T | Promise<T> {
    if (!this.busy) {
      this.assertOpen();
      try {
        return fn();
      } catch (err) {
        throw this.fault(err);
      }
    }
    return this.waitTurn().then(() => {
      try {
        this.assertOpen();
        return fn();
      } catch (err) {
        throw this.fault(err);
      } finally {
        this.release();
      }
    });
  }

  /** Runs one statement of an open transaction, mapping its errors. */
  private mapped<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw this.fault(err);
    }
  }

  private waitTurn(): Promise<void> {
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hands the connection to the next waiter, or marks it free. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  }

  /** Maps a driver error; SQLITE_READONLY is the caller's mistake only on a read-only handle. */
  private fault(err: unknown): BerthError {
    return mapDriverError(err, this.location, { readonlyHandle: this.db.readonly });
  }

  private assertOpen(): void {
    if (this.closed)
      throw new BerthError('STORE_CLOSED', `store ${this.location} is closed; open it again with openStore()`);
  }

  private prepare(def: QueryDef<unknown>): Prepared {
    let p = this.prepared.get(def);
    if (p === undefined) {
      const compiled = compileDef(this.compiler, def);
      const stmt = this.db.prepare(compiled.sql);
      p = { stmt, slots: compiled.slots, reader: stmt.reader };
      this.prepared.set(def, p);
    }
    return p;
  }

  private runAll<R>(def: QueryDef<R>, params: Params | undefined): R[] {
    const p = this.prepare(def);
    return p.stmt.all(...bindArgs(p.slots, params)) as R[];
  }

  private runGet<R>(def: QueryDef<R>, params: Params | undefined): R | undefined {
    const p = this.prepare(def);
    return p.stmt.get(...bindArgs(p.slots, params)) as R | undefined;
  }

  /** Steps the statement, mapping the driver's errors but not `visit`'s own. */
  private runEach<R>(def: QueryDef<R>, params: Params | undefined, visit: (row: R) => void): number {
    const rows = this.mapped(() => {
      const p = this.prepare(def);
      return p.stmt.iterate(...bindArgs(p.slots, params));
    });
    let n = 0;
    for (;;) {
      const next = this.mapped(() => rows.next());
      if (next.done === true) return n;
      n++;
      try {
        visit(next.value as R);
      } catch (err) {
        rows.return?.();
        throw err;
      }
    }
  }

  private runRun(def: QueryDef<unknown>, params: Params | undefined): number {
    const p = this.prepare(def);
    if (p.reader) return p.stmt.all(...bindArgs(p.slots, params)).length;
    return p.stmt.run(...bindArgs(p.slots, params)).changes;
  }
}
