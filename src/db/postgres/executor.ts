import { createHash } from 'node:crypto';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import pg from 'pg';
import { BerthError } from '../../errors.js';
import { isLostConnection, mapDriverError, type FaultContext } from '../driver-errors.js';
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

/** Maps an error raised by the pg driver (DESIGN.md §8): one without a code is a lost connection, not a bug. */
export function mapPostgresError(err: unknown, location: string, context: FaultContext = {}): BerthError {
  return mapDriverError(err, location, { ...context, driver: 'postgres' });
}

/** Connections per handle. */
const POOL_SIZE = 4;

/** Clients whose connection failed: released with an error, so the pool closes them. */
const broken = new WeakSet<pg.ClientBase>();

/**
 * A pool whose connections use the store's schema and parse int8 as numbers. Every client
 * it makes has an 'error' listener for its whole life: pg-pool listens on idle clients
 * only, and an 'error' event without a listener (a backend terminated while a client is
 * checked out) would crash the process. A client that saw an error is marked broken, so
 * the pool discards it when it comes back.
 */
export function createPool(config: PostgresConfig, max = POOL_SIZE): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.url,
    max,
    types,
    // Every connection works in the store's schema, so several stores can share a database.
    options: `-c search_path=${quoteIdent(config.schema)} -c lock_timeout=${Math.max(1, Math.round(config.busyTimeoutMs))}`,
    application_name: 'berth',
    // Finds a peer that vanished without closing (a network cut) on idle connections too.
    keepAlive: true,
  });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => broken.add(client));
  });
  return pool;
}

/** Gives a client back to its pool, discarding it when its connection is or may be broken. */
function release(client: pg.PoolClient, discard = false): void {
  client.release(discard || broken.has(client) ? true : undefined);
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
  private listenerReady = false;
  private closed = false;

  constructor(private readonly config: PostgresConfig) {
    this.location = config.location;
    this.pool = createPool(config);
    this.direct = {
      all: async (q, p) => (await this.single(q, p)).rows,
      get: async (q, p) => (await this.single(q, p)).rows[0],
      run: async (q, p) => (await this.single(q, p)).rowCount ?? 0,
      each: async (q, p, visit) => visitRows((await this.single(q, p)).rows, visit),
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
      if (err instanceof Error) Object.assign(err, { berthQuery: def.name });
      throw mapPostgresError(err, this.location);
    }
  }

  /**
   * A statement outside a transaction. Pooled connections the server dropped while they
   * sat idle (a restart, a terminated backend) fail before the statement ran: it runs
   * again on the next connection, so the first call after an outage does not fail.
   */
  private async single(def: QueryDef<unknown>, params: Params | undefined): Promise<pg.QueryResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.query(this.pool, def, params);
      } catch (err) {
        if (attempt > POOL_SIZE || !isLostConnection(err)) throw err;
      }
    }
  }

  private runner(client: pg.PoolClient): QueryRunner {
    return {
      all: async (q, p) => (await this.query(client, q, p)).rows,
      get: async (q, p) => (await this.query(client, q, p)).rows[0],
      run: async (q, p) => (await this.query(client, q, p)).rowCount ?? 0,
      each: async (q, p, visit) => visitRows((await this.query(client, q, p)).rows, visit),
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
    const { client, serverNow } = await this.begin(begin);
    let discard = false;
    try {
      const result = await fn(this.runner(client), serverNow);
      try {
        await client.query('COMMIT');
      } catch (err) {
        discard = true;
        throw mapPostgresError(err, this.location, {
          hint: isLostConnection(err)
            ? 'the connection broke during COMMIT, so this write may or may not have been committed: read it back before writing it again'
            : undefined,
        });
      }
      return result;
    } catch (err) {
      if (!discard) {
        try {
          await client.query('ROLLBACK');
        } catch {
          discard = true;
        }
      }
      throw err;
    } finally {
      release(client, discard);
    }
  }

  /**
   * A connection with `begin` run on it. When the connection turns out to be one the
   * server dropped while it was idle in the pool, nothing has run yet: it is discarded
   * and the transaction starts on the next one (at most every pooled one, then a new one).
   */
  private async begin(begin: string): Promise<{ client: pg.PoolClient; serverNow: number }> {
    for (let attempt = 1; ; attempt++) {
      this.assertOpen();
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw mapPostgresError(err, this.location);
      }
      try {
        const results = (await client.query(begin)) as unknown as pg.QueryResult[];
        return { client, serverNow: Number(results[results.length - 1]!.rows[0].now) };
      } catch (err) {
        // Whatever failed (a lock timeout, a lost connection), this connection is in no state to reuse.
        release(client, true);
        if (attempt <= POOL_SIZE && isLostConnection(err)) continue;
        throw mapPostgresError(err, this.location);
      }
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

  /**
   * Connects the LISTEN session in the background. Its errors never reach a caller: when
   * it drops (a restart, a terminated backend), followers are woken to read the journal
   * (and meet the outage there, typed), and the next wait connects it again. Once it is
   * (re)connected, followers are woken too, for what was committed while nobody listened.
   */
  private startListening(): void {
    if (this.listening || this.closed) return;
    const client = new pg.Client({
      connectionString: this.config.url,
      types,
      keepAlive: true,
      application_name: 'berth',
    });
    this.listener = client;
    this.listenerReady = false;
    const wakeAll = (): void => {
      this.notifications++;
      for (const wake of [...this.waiters]) wake();
    };
    const drop = (): void => {
      if (this.listener !== client) return;
      const wasListening = this.listenerReady;
      this.listener = undefined;
      this.listening = undefined;
      this.listenerReady = false;
      // A dead session's end() may never settle: let it go without waiting.
      client.end().catch(() => undefined);
      // Only a session that was listening wakes followers: a LISTEN that cannot be set up
      // at all (refused, no permission) leaves them on their poll interval, not in a loop.
      if (wasListening) wakeAll();
    };
    client.on('notification', wakeAll);
    client.on('error', drop);
    client.on('end', drop);
    this.listening = client
      .connect()
      .then(() => client.query(`LISTEN ${quoteIdent(`berth_events_${this.config.schema}`)}`))
      .then(() => {
        if (this.listener !== client) return;
        this.listenerReady = true;
        wakeAll();
      })
      .catch(drop);
  }

  async inspect(): Promise<StorageReport> {
    this.assertOpen();
    try {
      return await this.inspectUnmapped();
    } catch (err) {
      throw mapPostgresError(err, this.location);
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
    const listener = this.listener;
    this.listener = undefined;
    if (listener && this.listenerReady) await listener.end().catch(() => undefined);
    else listener?.end().catch(() => undefined);
    await this.pool.end();
  }
}

/** Hands each row of a result to `visit`, dropping it from the array as it goes. */
function visitRows<R>(rows: unknown[], visit: (row: R) => void): number {
  const n = rows.length;
  for (let i = 0; i < n; i++) {
    const row = rows[i] as R;
    rows[i] = undefined;
    visit(row);
  }
  return n;
}
