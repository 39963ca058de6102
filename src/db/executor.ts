import type { Params, QueryDef } from './query.js';
import type { Backend, MigrationReport, StorageReport } from './backend.js';

/** A value, or a promise of it: the SQLite executor answers synchronously. */
export type Awaitable<T> = T | Promise<T>;

/** Runs query definitions inside one transaction (or one statement); errors come mapped to BerthError. */
export interface QueryRunner {
  all<R>(query: QueryDef<R>, params?: Params): Awaitable<R[]>;
  get<R>(query: QueryDef<R>, params?: Params): Awaitable<R | undefined>;
  /** Runs a statement and returns the number of rows it changed. */
  run(query: QueryDef<unknown>, params?: Params): Awaitable<number>;
  /**
   * Hands each row to `visit` as it is read (SQLite steps the statement; PostgreSQL
   * reads the result first) and returns how many there were: a long listing is never
   * held as one array of rows. `visit`'s own errors stop the statement and come back
   * unchanged.
   */
  each<R>(query: QueryDef<R>, params: Params | undefined, visit: (row: R) => void): Awaitable<number>;
}

export type { Backend, StorageReport };

/** How a write transaction commits. */
export interface WriteOptions {
  /** false: the commit survives a crash of the process but maybe not of the machine. */
  durable?: boolean;
  /**
   * false: never run `fn` again after a serialisation failure (it is the caller's code).
   * By default a backend may retry a transaction that lost a race.
   */
  retry?: boolean;
}

/**
 * The body of a transaction: its statements run through `q`. `serverNow` is the database
 * server's clock at the start of the transaction (ms), where the backend has one.
 * Errors of `q`'s statements arrive mapped to BerthError; whatever `fn` throws comes
 * back from the transaction unchanged.
 */
export type TransactionBody<T> = (q: QueryRunner, serverNow: number | undefined) => Promise<T>;

/**
 * The storage boundary. The engine holds every rule; an executor only runs statements,
 * in transactions, and maps driver errors to BerthError codes.
 */
export interface Executor {
  readonly backend: Backend;
  /** Where the store lives, for messages (a file path or a redacted URL). */
  readonly location: string;
  /**
   * One write transaction (SQLite: BEGIN IMMEDIATE), serialised with every other call.
   * `durable: false` may commit without waiting for the disk (see LockStore).
   */
  write<T>(fn: TransactionBody<T>, opts?: WriteOptions): Promise<T>;
  /** One read transaction: a consistent snapshot across several statements. */
  read<T>(fn: TransactionBody<T>): Promise<T>;
  /** A single-statement read outside any explicit transaction. */
  readonly direct: QueryRunner;
  /**
   * Resolves when new events may have been committed (PostgreSQL: LISTEN/NOTIFY), or after
   * `ms`; at once when a notification came after `seen` (a count from notificationsSeen),
   * so one that arrives between a read and the wait is not lost.
   */
  waitForEvents?(ms: number, signal?: AbortSignal, seen?: number): Promise<void>;
  /** How many event notifications this executor has received so far. */
  notificationsSeen?(): number;
  /** Storage facts for `berth doctor`: checks the database itself, changes nothing. */
  inspect(): Promise<StorageReport>;
  /**
   * SQLite only: a consistent online copy of the store into a new file, taken while
   * writers go on (SQLite's backup API). It checks and creates the target itself (0600,
   * missing folders 0700), and its faults name the target, not the store.
   */
  backup?(file: string): Promise<void>;
  /**
   * SQLite only: replaces every row of the store with those of `file` (a migrated berth
   * store of the same schema) in one transaction.
   */
  replaceContents?(file: string): Promise<void>;
  close(): Promise<void>;
}

/** A store's storage, as a backend's `open` hands it to openStore. */
export interface OpenedBackend {
  exec: Executor;
  /** What opening migrated. */
  migration: MigrationReport;
  /** Gives this handle's share of the connection back (the last one closes it). */
  release(): Promise<void>;
}

/** How a backend is opened: who acts, with what clock, and the caller's limits. */
export interface BackendOpenOptions {
  readonly: boolean;
  /** Create the store when it does not exist (default true; never with `readonly`). */
  create?: boolean;
  busyTimeoutMs: number;
  /** SQLite's page cache in KiB, set when the connection opens. */
  cacheSizeKiB: number;
  clock: () => number;
  actor: string;
}
