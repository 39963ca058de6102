import { AsyncLocalStorage } from 'node:async_hooks';
import type { Executor, QueryRunner, WriteOptions } from '../db/executor.js';
import { BerthError } from '../errors.js';
import { appendEvent, type NewEvent } from './journal.js';
import type { SecretsKey } from './secrets.js';

/** What every part of the engine shares: the executor, the clock and who is acting. */
export interface EngineContext {
  readonly exec: Executor;
  readonly clock: () => number;
  /** user@host, recorded in events, locks and state history. */
  readonly actor: string;
  /** This host's name and boot id, for lock staleness. */
  readonly host: string;
  readonly bootId: string;
  /** Opened read-only: nothing is created on the way (e.g. the default workspace). */
  readonly readonly: boolean;
  /** Versions of a workspace's state kept in history. */
  readonly historyLimit: number;
  /** The operator's secrets key, shared by every handle of one openStore (rotation replaces it). */
  readonly secrets: { key: SecretsKey | undefined };
  namespace: string;
  closed: boolean;
  /** How long and how many events the journal keeps. */
  readonly eventRetention: { maxAgeMs: number; maxEvents: number };
  /** Called after each committed write (the journal's pruning counts them). */
  afterWrite?: () => void;
  /** Gives the handle's share of the connection back (the last one closes it). */
  readonly release: () => Promise<void>;
}

/** An open multi-call transaction (Store.transaction), visible to the calls made inside it. */
interface OpenTransaction {
  readonly exec: Executor;
  readonly tx: QueryRunner;
  readonly now: number;
  failure?: unknown;
}

const openTransactions = new AsyncLocalStorage<OpenTransaction>();

/** The transaction and journal plumbing shared by the object, workspace and lock stores. */
export abstract class EngineBase {
  constructor(protected readonly ctx: EngineContext) {}

  protected assertOpen(): void {
    if (this.ctx.closed) {
      throw new BerthError('STORE_CLOSED', `store ${this.ctx.exec.location} is closed; open it again with openStore()`);
    }
  }

  /** The transaction opened by Store.transaction around this call, if any. */
  private joined(): OpenTransaction | undefined {
    const open = openTransactions.getStore();
    return open !== undefined && open.exec === this.ctx.exec ? open : undefined;
  }

  /**
   * One write transaction; `now` is read once from the store's clock. Inside
   * Store.transaction the call joins that transaction instead, and a failure dooms it.
   */
  protected write<T>(fn: (tx: QueryRunner, now: number) => Promise<T>, opts?: WriteOptions): Promise<T> {
    this.assertOpen();
    const open = this.joined();
    if (open) return this.joinedCall(open, () => fn(open.tx, open.now), true);
    return this.committed(this.ctx.exec.write((tx) => fn(tx, this.ctx.clock()), opts));
  }

  /** One read transaction (or the open Store.transaction). */
  protected read<T>(fn: (tx: QueryRunner) => Promise<T>): Promise<T> {
    this.assertOpen();
    const open = this.joined();
    if (open) return this.joinedCall(open, () => fn(open.tx), false);
    return this.ctx.exec.read(fn);
  }

  /** Single-statement reads: outside any transaction, or inside the open one. */
  protected get direct(): QueryRunner {
    return this.joined()?.tx ?? this.ctx.exec.direct;
  }

  /** Runs a call inside the open transaction; a failed write dooms it (a failed read does not). */
  private async joinedCall<T>(open: OpenTransaction, fn: () => Promise<T>, dooms: boolean): Promise<T> {
    if (open.failure !== undefined) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        'this transaction already failed and will be rolled back; no further calls run in it',
        {
          cause: open.failure,
        },
      );
    }
    try {
      return await fn();
    } catch (err) {
      if (dooms) open.failure ??= err;
      throw err;
    }
  }

  /**
   * Runs `fn` in one write transaction: every store call awaited inside it joins the
   * transaction, and either all of their changes commit or none do. A call that fails
   * inside dooms the transaction, even if `fn` catches the error.
   */
  protected runTransaction<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    if (this.joined()) return fn();
    return this.committed(
      this.ctx.exec.write(async (tx) => {
        const open: OpenTransaction = { exec: this.ctx.exec, tx, now: this.ctx.clock() };
        const result = await openTransactions.run(open, fn);
        if (open.failure !== undefined) throw open.failure;
        return result;
      }),
    );
  }

  private async committed<T>(work: Promise<T>): Promise<T> {
    const result = await work;
    this.ctx.afterWrite?.();
    return result;
  }

  protected event(tx: QueryRunner, now: number, event: NewEvent): Promise<void> {
    return appendEvent(tx, now, this.ctx.actor, event);
  }
}
