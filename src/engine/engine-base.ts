import type { Executor, QueryRunner } from '../db/executor.js';
import { BerthError } from '../errors.js';
import { appendEvent, type NewEvent } from './journal.js';

/** What every part of the engine shares: the executor, the clock and who is acting. */
export interface EngineContext {
  readonly exec: Executor;
  readonly clock: () => number;
  /** user@host, recorded in events, locks and state history. */
  readonly actor: string;
  /** This host's name and boot id, for lock staleness. */
  readonly host: string;
  readonly bootId: string;
  /** Versions of a workspace's state kept in history. */
  readonly historyLimit: number;
  namespace: string;
  closed: boolean;
}

/** The transaction and journal plumbing shared by the object, workspace and lock stores. */
export abstract class EngineBase {
  constructor(protected readonly ctx: EngineContext) {}

  protected assertOpen(): void {
    if (this.ctx.closed) {
      throw new BerthError('STORE_CLOSED', `store ${this.ctx.exec.location} is closed; open it again with openStore()`);
    }
  }

  /** One write transaction; `now` is read once from the store's clock. */
  protected write<T>(fn: (tx: QueryRunner, now: number) => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.ctx.exec.write((tx) => fn(tx, this.ctx.clock()));
  }

  /** One read transaction. */
  protected read<T>(fn: (tx: QueryRunner) => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.ctx.exec.read(fn);
  }

  protected event(tx: QueryRunner, now: number, event: NewEvent): Promise<void> {
    return appendEvent(tx, now, this.ctx.actor, event);
  }
}
