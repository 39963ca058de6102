import { createHash } from 'node:crypto';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import pg from 'pg';
import { BerthError } from '../../errors.js';
import { mapDriverError } from '../driver-errors.js';
import type { Executor, QueryRunner, StorageReport, TransactionBody, WriteOptions } from '../executor.js';
import { bindArgs, compileDef, type ArgSlot, type Params, type QueryDef } from '../query.js';
import type { Database } from '../schema.js';

/** A kysely instance that only compiles PostgreSQL SQL; it never connects. */
export function createPostgresCompiler(): Kysely<Database> {
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
}

interface Prepared {
  readonly name: string;
  readonly text: string;
  readonly slots: readonly ArgSlot[];
}

/** Errors worth running the whole transaction again for: a concurrent writer won a race. */
const RETRYABLE = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 8;

/** The driver's code behind an error, mapped or not. */
function driverCodeOf(err: unknown): string | undefined {
  if (err instanceof BerthError) return typeof err.details.driverCode === 'string' ? err.details.driverCode : undefined;
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** The server's clock in ms, read last in the round trip that opens a transaction. */
const SERVER_NOW = 'SELECT (extract(epoch from clock_timestamp()) * 1000)::int8 AS now';
/**
 * A write takes the store's write lock first (a row lock on berth_meta 'write_lock'), the
 * equivalent of SQLite's BEGIN IMMEDIATE; its clock is read once the lock is held.
 */
const WRITE_BEGIN = `BEGIN ISOLATION LEVEL READ COMMITTED; SELECT value FROM berth_meta WHERE key = 'write_lock' FOR UPDATE; ${SERVER_NOW}`;
const READ_BEGIN = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ${SERVER_NOW}`;

/** int8 (counts, sequences, millisecond times) as numbers: all stay far below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Connection settings of a store: the URL, its schema, and how long to wait for the write lock. */
export interface PostgresConfig {
  url: string;
  schema: string;
  busyTimeoutMs: number;
  location: string;
}

/** Quotes an identifier for SQL text (schema names are also checked by the caller). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A pool whose connections use the store's schema and parse int8 as numbers. */
export function createPool(config: PostgresConfig, max = 4): pg.Pool {
  return new pg.Pool({
    connectionString: config.url,
    max,
    types,
    // Every connection works in the store's schema, so several stores can share a database.
    options: `-c search_path=${quoteIdent(config.schema)} -c lock_timeout=${Math.max(1, Math.round(config.busyTimeoutMs))}`,
    application_name: 'berth',
  });
}

/**
 * Runs engine calls on PostgreSQL. Every write transaction first takes the store's write
 * lock (a row lock on berth_meta 'write_lock'), the equivalent of SQLite's BEGIN
 * IMMEDIATE: writers from every machine are serialised, so every rule the engine checks
 * holds, and event seqs are assigned and committed in the same order. Reads use
 * REPEATABLE READ snapshots and never wait for writers.
 */
export class PostgresExecutor implements Executor {
  readonly backend = 'postgres' as const;
  readonly direct: QueryRunner;
  readonly location: string;
  private readonly compiler = createPostgresCompiler();
  private readonly prepared = new Map<QueryDef<unknown>, Prepared>();
  /** The store's connections (the migrator borrows one). */
  readonly pool: pg.Pool;
  private listener: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private readonly waiters = new Set<() => void>();
  private notifications = 0;
  private closed = false;

  constructor(private readonly config: PostgresConfig) {
    this.location = config.location;
    this.pool = createPool(config);
    // An idle client that loses its connection must not crash the process.
    this.pool.on('error', () => undefined);
    this.direct = {
      all: async (q, p) => (await this.query(this.pool, q, p)).rows,
      get: async (q, p) => (await this.query(this.pool, q, p)).rows[0],
      run: async (q, p) => (await this.query(this.pool, q, p)).rowCount ?? 0,
    };
  }

  private prepare(def: QueryDef<unknown>): Prepared {
    let p = this.prepared.get(def);
    if (!p) {
      const compiled = compileDef(this.compiler, def);
      const hash = createHash('sha1').update(compiled.sql).digest('hex').slice(0, 12);
      p = { name: `berth_${def.name}_${hash}`.slice(0, 63), text: compiled.sql, slots: compiled.slots };
      this.prepared.set(def, p);
    }
    return p;
  }

  private async query(
    client: pg.Pool | pg.PoolClient,
    def: QueryDef<unknown>,
    params: Params | undefined,
  ): Promise<pg.QueryResult> {
    this.assertOpen();
    const p = this.prepare(def);
    try {
      return await client.query({ name: p.name, text: p.text, values: bindArgs(p.slots, params) });
    } catch (err) {
      throw mapDriverError(Object.assign(err as Error, { berthQuery: def.name }), this.location);
    }
  }

  private runner(client: pg.PoolClient): QueryRunner {
    return {
      all: async (q, p) => (await this.query(client, q, p)).rows,
      get: async (q, p) => (await this.query(client, q, p)).rows[0],
      run: async (q, p) => (await this.query(client, q, p)).rowCount ?? 0,
    };
  }

  private assertOpen(): void {
    if (this.closed)
      throw new BerthError('STORE_CLOSED', `store ${this.location} is closed; open it again with openStore()`);
  }

  async write<T>(fn: TransactionBody<T>, opts: WriteOptions = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction(WRITE_BEGIN, fn);
      } catch (err) {
        // A unique violation means a concurrent writer won a race the engine's checks could
        // not see: run again, and the checks report it properly (e.g. CONTAINER_EXISTS).
        const code = driverCodeOf(err);
        const retry = opts.retry !== false && (RETRYABLE.has(code ?? '') || code === '23505');
        if (!retry || attempt >= MAX_ATTEMPTS) throw err;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      }
    }
  }

  read<T>(fn: TransactionBody<T>): Promise<T> {
    return this.transaction(READ_BEGIN, fn);
  }

  /**
   * One transaction on a pooled connection. `begin` opens it and ends with a statement
   * that reads the server's clock, all in one round trip. Statement errors arrive mapped;
   * errors of `fn` itself pass through unchanged.
   */
  private async transaction<T>(begin: string, fn: TransactionBody<T>): Promise<T> {
    this.assertOpen();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw mapDriverError(err, this.location);
    }
    let broken = false;
    try {
      let serverNow: number;
      try {
        const results = (await client.query(begin)) as unknown as pg.QueryResult[];
        serverNow = Number(results[results.length - 1]!.rows[0].now);
      } catch (err) {
        throw mapDriverError(err, this.location);
      }
      const result = await fn(this.runner(client), serverNow);
      try {
        await client.query('COMMIT');
      } catch (err) {
        throw mapDriverError(err, this.location);
      }
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** Resolves on the next committed event (LISTEN/NOTIFY), or after `ms` at the latest. */
  notificationsSeen(): number {
    this.startListening();
    return this.notifications;
  }

  waitForEvents(ms: number, signal?: AbortSignal, seen?: number): Promise<void> {
    this.startListening();
    if (seen !== undefined && this.notifications > seen) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private startListening(): void {
    if (this.listening || this.closed) return;
    const client = new pg.Client({ connectionString: this.config.url, types });
    this.listener = client;
    client.on('notification', () => {
      this.notifications++;
      for (const wake of [...this.waiters]) wake();
    });
    client.on('error', () => {
      // The listener dropped: followers fall back to their poll interval; try again later.
      this.listener = undefined;
      this.listening = undefined;
    });
    this.listening = client
      .connect()
      .then(() => client.query(`LISTEN ${quoteIdent(`berth_events_${this.config.schema}`)}`))
      .then(() => undefined)
      .catch(() => {
        this.listening = undefined;
      });
  }

  async inspect(): Promise<StorageReport> {
    this.assertOpen();
    try {
      return await this.inspectUnmapped();
    } catch (err) {
      throw mapDriverError(err, this.location);
    }
  }

  private async inspectUnmapped(): Promise<StorageReport> {
    const one = async <R>(text: string, values: unknown[] = []): Promise<R> =>
      (await this.pool.query(text, values)).rows[0] as R;
    const version = await one<{ v: number | null }>('SELECT max(version) AS v FROM berth_migrations');
    const size = await one<{ bytes: number | null }>(
      `SELECT sum(pg_total_relation_size(c.oid))::bigint AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [this.config.schema],
    );
    const server = await one<{ v: string }>("SELECT current_setting('server_version') AS v");
    return {
      schemaVersion: version.v ?? 0,
      // PostgreSQL checks its pages itself; foreign keys are enforced, so references cannot dangle.
      integrity: ['ok'],
      danglingReferences: [],
      sizeBytes: size.bytes ?? 0,
      settings: { server_version: server.v, schema: this.config.schema, lock_timeout_ms: this.config.busyTimeoutMs },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const wake of [...this.waiters]) wake();
    await this.listener?.end().catch(() => undefined);
    await this.pool.end();
  }
}
