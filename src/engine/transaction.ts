import { AsyncLocalStorage } from 'node:async_hooks';
import type { Awaitable, WriteOptions } from '../db/executor.js';
import { BerthError } from '../errors.js';
import type { EngineContext, Tx } from './context.js';

/*
 * How the Store facade runs its operations (STYLE.md 13: transactions are values). A
 * handle's calls each run in a transaction of their own (StoreRunner). Inside
 * `store.transaction(async (tx) => …)` the calls made through `tx` run, one after the
 * other, in that one transaction (OpenTransaction); nothing joins it implicitly.
 */

/** Runs one operation for a handle; `ns` is the calling handle's namespace. */
export interface Runner {
  /** True for the runner of an open `store.transaction`. */
  readonly inTransaction: boolean;
  /** A read of a single statement, which needs no transaction of its own. */
  one<T>(ns: string, op: (tx: Tx) => Awaitable<T>): Promise<T>;
  /** A read of several statements from one snapshot. */
  read<T>(ns: string, op: (tx: Tx) => Promise<T>): Promise<T>;
  /** A write: all of its statements and events commit together, or none. */
  write<T>(ns: string, op: (tx: Tx) => Promise<T>, opts?: WriteOptions): Promise<T>;
}

/** The open transactions of this async flow, so that a `store` call made inside one is refused. */
interface Scope {
  readonly location: string;
  open: boolean;
}
const transactionScope = new AsyncLocalStorage<Scope>();

function closedStore(ctx: EngineContext): BerthError {
  return new BerthError('STORE_CLOSED', `store ${ctx.exec.location} is closed; open it again with openStore()`);
}

/** The time of a transaction: the injected clock, else the database server's, else this host's. */
function transactionTime(ctx: EngineContext, serverNow: number | undefined): number {
  const now = ctx.clockInjected || serverNow === undefined ? ctx.clock() : serverNow;
  if (!Number.isFinite(now)) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `the store's clock returned ${String(now)}, not a number of milliseconds; pass a clock that returns Date.now()-style times`,
    );
  }
  return now;
}

/**
 * Refuses what a handle must not do now: use a closed store, call `store` from inside
 * its own transaction's callback (on SQLite that could only deadlock on the connection
 * the transaction holds), or write through a read-only handle.
 */
function assertUsable(ctx: EngineContext, writes: boolean): void {
  if (ctx.life.closed) throw closedStore(ctx);
  const scope = transactionScope.getStore();
  if (scope?.open && scope.location === ctx.exec.location) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      'this call was made on the store inside its own transaction: use tx inside store.transaction(async (tx) => …), not store',
    );
  }
  if (writes && ctx.readonly) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `store ${ctx.exec.location} was opened read-only, so it takes no writes; open it without readonly to change it`,
    );
  }
}

/** Each call in a transaction of its own. */
export class StoreRunner implements Runner {
  readonly inTransaction = false;

  constructor(private readonly ctx: EngineContext) {}

  async one<T>(ns: string, op: (tx: Tx) => Awaitable<T>): Promise<T> {
    const ctx = this.ctx;
    assertUsable(ctx, false);
    return op({ q: ctx.exec.direct, now: transactionTime(ctx, undefined), ns, ctx });
  }

  read<T>(ns: string, op: (tx: Tx) => Promise<T>): Promise<T> {
    const ctx = this.ctx;
    assertUsable(ctx, false);
    return ctx.exec.read((q, serverNow) => op({ q, now: transactionTime(ctx, serverNow), ns, ctx }));
  }

  async write<T>(ns: string, op: (tx: Tx) => Promise<T>, opts?: WriteOptions): Promise<T> {
    const ctx = this.ctx;
    assertUsable(ctx, true);
    const result = await ctx.exec.write(
      (q, serverNow) => op({ q, now: transactionTime(ctx, serverNow), ns, ctx }),
      opts,
    );
    ctx.afterWrite?.();
    return result;
  }
}

/** Storage faults doom a transaction even when the call that met them only read. */
function isStorageFault(err: unknown): boolean {
  return !(err instanceof BerthError) || err.code.startsWith('STORE_') || err.code === 'INTERNAL';
}

function transactionClosed(): BerthError {
  return new BerthError(
    'TRANSACTION_CLOSED',
    'this transaction has ended: its callback returned or threw before this call ran; call tx only from inside the callback, and await every call',
  );
}

/**
 * The calls of one open `store.transaction`: serialised in the order they are made, all
 * in the same database transaction, refused once the callback has settled.
 */
export class OpenTransaction implements Runner {
  readonly inTransaction = true;
  private status: 'open' | 'settling' | 'closed' = 'open';
  /** The first failed call: the transaction will be rolled back. */
  private failure: { error: unknown } | undefined;
  /** A call was still pending when the callback settled. */
  private unawaited = false;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: EngineContext,
    private readonly q: Tx['q'],
    private readonly now: number,
  ) {}

  one<T>(ns: string, op: (tx: Tx) => Awaitable<T>): Promise<T> {
    return this.call(ns, op, false);
  }

  read<T>(ns: string, op: (tx: Tx) => Promise<T>): Promise<T> {
    return this.call(ns, op, false);
  }

  write<T>(ns: string, op: (tx: Tx) => Promise<T>): Promise<T> {
    if (this.ctx.readonly) return Promise.reject(new BerthError('INVALID_ARGUMENT', 'this store is read-only'));
    return this.call(ns, op, true);
  }

  private call<T>(ns: string, op: (tx: Tx) => Awaitable<T>, writes: boolean): Promise<T> {
    if (this.status !== 'open') return Promise.reject(transactionClosed());
    const run = async (): Promise<T> => {
      if (this.status !== 'open') {
        this.unawaited = true;
        throw transactionClosed();
      }
      if (this.failure) {
        throw new BerthError(
          'INVALID_ARGUMENT',
          'this transaction already failed and will be rolled back; no further calls run in it',
          { cause: this.failure.error },
        );
      }
      try {
        const result = await op({ q: this.q, now: this.now, ns, ctx: this.ctx });
        if (this.status !== 'open') {
          this.unawaited = true;
          throw transactionClosed();
        }
        return result;
      } catch (err) {
        if ((writes || isStorageFault(err)) && !(err instanceof BerthError && err.code === 'TRANSACTION_CLOSED')) {
          this.failure ??= { error: err };
        }
        throw err;
      }
    };
    const call = this.tail.then(run);
    this.tail = call.catch(() => undefined);
    return call;
  }

  /** Ends the transaction for its calls: waits for the one running, refuses the rest. */
  async settle(): Promise<void> {
    this.status = 'settling';
    await this.tail;
    this.status = 'closed';
  }

  /** Throws unless what the callback did may commit. */
  assertCommittable(): void {
    if (this.failure) throw this.failure.error;
    if (this.unawaited) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        'the transaction callback returned while a call on tx was still pending; await every call on tx inside the callback. Nothing was committed',
      );
    }
  }
}

/**
 * Runs `fn` in one write transaction (see Store.transaction): the calls it makes through
 * the transaction it is given commit together when it returns, and not at all when it
 * throws (its own error comes back unchanged) or when one of them failed.
 */
export async function runTransaction<T>(ctx: EngineContext, fn: (open: OpenTransaction) => Promise<T>): Promise<T> {
  assertUsable(ctx, true);
  const result = await ctx.exec.write(
    async (q, serverNow) => {
      const open = new OpenTransaction(ctx, q, transactionTime(ctx, serverNow));
      const scope: Scope = { location: ctx.exec.location, open: true };
      let outcome: { ok: true; value: T } | { ok: false; error: unknown };
      try {
        outcome = { ok: true, value: await transactionScope.run(scope, () => fn(open)) };
      } catch (error) {
        outcome = { ok: false, error };
      }
      scope.open = false;
      await open.settle();
      if (!outcome.ok) throw outcome.error;
      open.assertCommittable();
      return outcome.value;
    },
    // The callback is the caller's code: never run it twice.
    { retry: false },
  );
  ctx.afterWrite?.();
  return result;
}
