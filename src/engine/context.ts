import type { Backend, Executor, QueryRunner } from '../db/executor.js';
import type { DataKey, SecretsKey } from './secrets/crypto.js';

/**
 * What every operation of one opened store shares: the executor, the clock, who acts
 * and the handle's settings. One per `openStore()`; handles made with `withNamespace`
 * share it.
 */
export interface EngineContext {
  readonly exec: Executor;
  /** Milliseconds since the epoch: the injected clock, or Date.now. */
  readonly clock: () => number;
  /**
   * Whether `clock` was injected (tests, simulations). Otherwise, on PostgreSQL, times
   * inside a transaction are read from the database server's clock, so clients whose
   * clocks disagree never break each other's leases (DESIGN.md §9).
   */
  readonly clockInjected: boolean;
  /** user@host, recorded in events, locks and state history. */
  readonly actor: string;
  /** This host's name and boot id, for lock staleness. */
  readonly host: string;
  readonly bootId: string;
  /** Opened read-only: every write is refused, nothing is created on the way. */
  readonly readonly: boolean;
  /** Versions of a workspace's state kept in history. */
  readonly historyLimit: number;
  /** The operator's secrets key (rotation replaces it for every handle of this store). */
  readonly secrets: { key: SecretsKey | undefined };
  /** Data keys unwrapped so far, by id. */
  readonly dataKeys: Map<string, DataKey>;
  /** How long and how many events the journal keeps. */
  readonly eventRetention: { maxAgeMs: number; maxEvents: number };
  /** Shared by every handle of the store: set once by close(). */
  readonly life: { closed: boolean };
  /** Called after each committed write (the journal's pruning counts them). */
  afterWrite?: () => void;
  /** Gives the store's share of the connection back (the last one closes it). */
  readonly release: () => Promise<void>;
}

/**
 * One operation's transaction, passed explicitly to every engine function (STYLE.md 13):
 * the statements it runs, its one point in time, and the namespace of the handle that
 * called it.
 */
export interface Tx {
  readonly q: QueryRunner;
  /** The transaction's time (ms since the epoch), read once. */
  readonly now: number;
  /** The calling handle's namespace; '' sees every namespace. */
  readonly ns: string;
  readonly ctx: EngineContext;
}

/** Which database a store lives in. */
export type { Backend };
