import { randomUUID } from 'node:crypto';
import type { QueryRunner } from '../db/executor.js';
import type { LockRow } from '../db/schema.js';
import { BerthError } from '../errors.js';
import { BERTH_VERSION } from '../version.js';
import { EngineBase, type EngineContext } from './engine-base.js';
import { assertNonEmpty } from './validate.js';
import * as q from './workspace-queries.js';

/** A held lock, as `locks.get`/`list` and a LOCKED error's `details.lock` show it. */
export interface LockInfo {
  key: string;
  id: string;
  operation: string;
  who: string;
  info: string;
  version: string;
  createdAt: string;
  pid: number;
  host: string;
  fencingToken: number;
  expiresAt?: string;
  /** Its lease expired, its holder's pid is dead on this host, or it predates this boot. */
  stale: boolean;
  /** Why it is stale, when it is. */
  staleReason?: string;
}

/** Options of an acquisition. */
export interface AcquireOptions {
  operation: string;
  info?: string;
  who?: string;
  /** Wait up to this long for the holder to release, with backoff (default 0: fail at once). */
  timeoutMs?: number;
  /** A lease: the lock goes stale unless renewed by `heartbeat` within this time. */
  ttlMs?: number;
  /** Break the current lock if, and only if, it is stale (recorded in an event). */
  breakStale?: boolean;
  /**
   * The process that holds the lock (default: this one). 0 ties it to no process — a
   * lock left held by a CLI command — so only its lease or a reboot can make it stale.
   */
  pid?: number;
}

/**
 * Taking and releasing a lock commit without waiting for the disk (SQLite: synchronous
 * NORMAL). Only a power loss can lose such a commit, and every lock from before a reboot
 * is cleared by the refresh after it; the first state write under the lock makes the
 * acquisition durable anyway. On PostgreSQL, shared by hosts, every commit is durable.
 */
export const LOCK_COMMIT = { durable: false } as const;

/** The event namespace of a lock key: a workspace lock belongs to its workspace's namespace. */
function keyNamespace(key: string): string {
  const m = /^workspace:([^/]*)\//.exec(key);
  return m ? m[1]! : '';
}

function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Locks as rows (DESIGN.md §5): atomic acquire, holder info, TTL leases, store-wide
 * fencing tokens, stale detection, and force-unlock by exact id.
 */
export class LockStore extends EngineBase {
  constructor(ctx: EngineContext) {
    super(ctx);
  }

  /** Why a lock is stale, or undefined when it is live. */
  staleReason(row: LockRow, now: number): string | undefined {
    if (row.expires_at !== null && row.expires_at <= now) return 'lease expired';
    if (row.host === this.ctx.host) {
      if (row.boot_id !== this.ctx.bootId) return 'taken before this host rebooted';
      if (row.pid !== 0 && row.pid !== process.pid && !isPidAlive(row.pid)) return `holder process ${row.pid} is gone`;
    }
    return undefined;
  }

  /** Turns a lock row into its public form. */
  toLockInfo(row: LockRow, now: number): LockInfo {
    const reason = this.staleReason(row, now);
    const info: LockInfo = {
      key: row.key,
      id: row.id,
      operation: row.operation,
      who: row.who,
      info: row.info,
      version: row.version,
      createdAt: new Date(row.created_at).toISOString(),
      pid: row.pid,
      host: row.host,
      fencingToken: row.fencing_token,
      stale: reason !== undefined,
    };
    if (row.expires_at !== null) info.expiresAt = new Date(row.expires_at).toISOString();
    if (reason !== undefined) info.staleReason = reason;
    return info;
  }

  /** The LOCKED error for a key held by `row`, with the holder and how to break it. */
  lockedError(row: LockRow, now: number, what = `lock ${row.key}`): BerthError {
    const lock = this.toLockInfo(row, now);
    const stale = lock.stale ? ` The lock looks stale (${lock.staleReason}).` : '';
    return new BerthError(
      'LOCKED',
      `${what} is locked by ${lock.who} (operation ${JSON.stringify(lock.operation)}, since ${lock.createdAt}, ${lock.pid ? `pid ${lock.pid} on ${lock.host}` : `on ${lock.host}`}, lock id ${lock.id}).${stale} Wait for it to be released, or, if no one holds it any more, run: berth force-unlock ${lock.id}`,
      { details: { lock } },
    );
  }

  /**
   * Takes a lock inside the caller's transaction.
   * @throws LOCKED with the holder's LockInfo in details.lock
   */
  async acquireIn(tx: QueryRunner, now: number, key: string, opts: AcquireOptions, what?: string): Promise<LockInfo> {
    const held = await tx.get(q.getLock, { key });
    if (held) {
      const reason = opts.breakStale ? this.staleReason(held, now) : undefined;
      if (reason === undefined) throw this.lockedError(held, now, what);
      await tx.run(q.deleteLock, { key, id: held.id });
      await this.event(tx, now, {
        namespace: keyNamespace(key),
        type: 'lock.break_stale',
        subject: { kind: 'lock', id: held.id, name: key },
        data: { lock: this.toLockInfo(held, now), reason },
      });
    }
    const token = Number((await tx.get(q.nextFencingToken, {}))!.value);
    const ttl = opts.ttlMs ?? null;
    const row: LockRow = {
      key,
      id: randomUUID(),
      operation: opts.operation,
      who: opts.who ?? this.ctx.actor,
      info: opts.info ?? '',
      version: BERTH_VERSION,
      created_at: now,
      pid: opts.pid ?? process.pid,
      host: this.ctx.host,
      boot_id: this.ctx.bootId,
      fencing_token: token,
      ttl_ms: ttl,
      expires_at: ttl === null ? null : now + ttl,
    };
    await tx.run(q.insertLock, {
      key,
      id: row.id,
      operation: row.operation,
      who: row.who,
      info: row.info,
      version: row.version,
      now,
      pid: row.pid,
      host: row.host,
      bootId: row.boot_id,
      token,
      ttl,
      expiresAt: row.expires_at,
    });
    const info = this.toLockInfo(row, now);
    await this.event(tx, now, {
      namespace: keyNamespace(key),
      type: 'lock.acquire',
      subject: { kind: 'lock', id: row.id, name: key },
      data: { operation: row.operation, who: row.who, fencingToken: token },
    });
    return info;
  }

  /**
   * Retries `attempt` while it fails with LOCKED, with backoff, for up to `timeoutMs`
   * of wall time (not the store's clock, which tests may freeze).
   */
  async withLockWait<T>(timeoutMs: number | undefined, attempt: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + Math.max(0, timeoutMs ?? 0);
    let delay = 25;
    for (;;) {
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof BerthError) || err.code !== 'LOCKED' || Date.now() >= deadline) throw err;
        const wait = Math.min(delay, deadline - Date.now());
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait) * (0.5 + Math.random() / 2)));
        delay = Math.min(delay * 2, 1000);
      }
    }
  }

  /**
   * Acquires the lock `key`.
   * @throws EMPTY_ID, INVALID_ARGUMENT, LOCKED (details.lock: the holder)
   */
  async acquire(key: string, opts: AcquireOptions): Promise<LockInfo> {
    this.assertOpen();
    assertNonEmpty(key, 'lock key');
    assertAcquireOptions(opts);
    return this.withLockWait(opts.timeoutMs, () =>
      this.write((tx, now) => this.acquireIn(tx, now, key, opts), LOCK_COMMIT),
    );
  }

  /**
   * Releases a lock held with `lockId`.
   * @throws EMPTY_ID, NOT_LOCKED, LOCK_ID_MISMATCH
   */
  async release(key: string, lockId: string): Promise<void> {
    this.assertOpen();
    assertNonEmpty(key, 'lock key');
    assertNonEmpty(lockId, 'lock id');
    await this.write(async (tx, now) => {
      const row = await this.heldBy(tx, now, key, lockId);
      await tx.run(q.deleteLock, { key, id: row.id });
      await this.event(tx, now, {
        namespace: keyNamespace(key),
        type: 'lock.release',
        subject: { kind: 'lock', id: row.id, name: key },
      });
    }, LOCK_COMMIT);
  }

  /** The row of `key` if `lockId` holds it; NOT_LOCKED or LOCK_ID_MISMATCH otherwise. */
  async heldBy(tx: QueryRunner, now: number, key: string, lockId: string): Promise<LockRow> {
    const row = await tx.get(q.getLock, { key });
    if (!row) {
      throw new BerthError('NOT_LOCKED', `${key} is not locked; nothing to release`, { details: { key } });
    }
    if (row.id !== lockId) {
      throw new BerthError(
        'LOCK_ID_MISMATCH',
        `${key} is locked with another id (${row.id}, held by ${row.who}); pass the id printed when the lock was taken`,
        { details: { key, lockId, lock: this.toLockInfo(row, now) } },
      );
    }
    return row;
  }

  /**
   * Renews a lease; proves the caller still holds the lock.
   * @throws EMPTY_ID, LOCK_LOST
   */
  async heartbeat(key: string, lockId: string): Promise<LockInfo> {
    this.assertOpen();
    assertNonEmpty(key, 'lock key');
    assertNonEmpty(lockId, 'lock id');
    return this.write(async (tx, now) => {
      const row = await this.assertHolds(tx, key, lockId);
      const expiresAt = row.ttl_ms === null ? null : now + row.ttl_ms;
      if (expiresAt !== null) await tx.run(q.renewLock, { key, id: lockId, expiresAt });
      return this.toLockInfo({ ...row, expires_at: expiresAt }, now);
    }, LOCK_COMMIT);
  }

  /**
   * Fencing: the row of `key` when `lockId` still holds it.
   * @throws LOCK_LOST when it was force-unlocked, broken as stale, or never issued
   */
  async assertHolds(tx: QueryRunner, key: string, lockId: string): Promise<LockRow> {
    const row = await tx.get(q.getLock, { key });
    if (!row || row.id !== lockId) {
      throw new BerthError(
        'LOCK_LOST',
        `lock ${lockId} no longer holds ${key}${row ? ` (now held by ${row.who}, lock ${row.id})` : ''}: it was force-unlocked, broken as stale, or never issued; nothing was written — take the lock again and re-read before writing`,
        { details: { key, lockId, holder: row?.id } },
      );
    }
    return row;
  }

  /**
   * Removes the lock `key` whatever its holder, given its exact id, and records who
   * broke whose lock. Returns the removed lock.
   * @throws EMPTY_ID, NOT_LOCKED, LOCK_ID_MISMATCH
   */
  async forceUnlock(key: string, lockId: string): Promise<LockInfo> {
    this.assertOpen();
    assertNonEmpty(key, 'lock key');
    assertNonEmpty(lockId, 'lock id');
    return this.write((tx, now) => this.forceUnlockIn(tx, now, key, lockId));
  }

  async forceUnlockIn(tx: QueryRunner, now: number, key: string, lockId: string): Promise<LockInfo> {
    const row = await this.heldBy(tx, now, key, lockId);
    const removed = this.toLockInfo(row, now);
    await tx.run(q.deleteLock, { key, id: row.id });
    await this.event(tx, now, {
      namespace: keyNamespace(key),
      type: 'lock.force_unlock',
      subject: { kind: 'lock', id: row.id, name: key },
      data: { lock: removed, brokenBy: this.ctx.actor },
    });
    return removed;
  }

  /** The lock on `key`, if any. */
  async get(key: string): Promise<LockInfo | undefined> {
    this.assertOpen();
    assertNonEmpty(key, 'lock key');
    const row = await this.direct.get(q.getLock, { key });
    return row ? this.toLockInfo(row, this.ctx.clock()) : undefined;
  }

  /** Every held lock, stale ones marked. */
  async list(): Promise<LockInfo[]> {
    this.assertOpen();
    const now = this.ctx.clock();
    return (await this.direct.all(q.allLocks, {})).map((row) => this.toLockInfo(row, now));
  }

  /** Removes the locks taken on this host before its current boot (part of refresh). */
  async clearPreRebootLocks(tx: QueryRunner, now: number): Promise<void> {
    for (const row of await tx.all(q.preRebootLocks, { host: this.ctx.host, bootId: this.ctx.bootId })) {
      await tx.run(q.deleteLock, { key: row.key, id: row.id });
      await this.event(tx, now, {
        namespace: keyNamespace(row.key),
        type: 'lock.break_stale',
        subject: { kind: 'lock', id: row.id, name: row.key },
        data: { lock: this.toLockInfo(row, now), reason: 'taken before this host rebooted' },
      });
    }
  }
}

const MAX_LOCK_MS = 10 * 365 * 24 * 3600 * 1000;

/** Validates acquire options before any transaction. */
export function assertAcquireOptions(opts: AcquireOptions): void {
  if (typeof opts !== 'object' || opts === null || typeof opts.operation !== 'string' || opts.operation === '') {
    throw new BerthError(
      'INVALID_ARGUMENT',
      'a lock needs an operation (what it is taken for), e.g. { operation: "apply" }',
    );
  }
  for (const field of ['timeoutMs', 'ttlMs'] as const) {
    const v = opts[field];
    // Whole milliseconds, at most ten years: the lease must stay a valid time.
    if (
      v !== undefined &&
      (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_LOCK_MS || (field === 'ttlMs' && v === 0))
    ) {
      throw new BerthError('INVALID_ARGUMENT', `lock option ${field} must be a positive number of milliseconds`, {
        details: { [field]: v },
      });
    }
  }
  if (opts.pid !== undefined && (!Number.isInteger(opts.pid) || opts.pid < 0 || opts.pid > 2_147_483_647)) {
    throw new BerthError('INVALID_ARGUMENT', 'lock option pid must be a process id, or 0 for none', {
      details: { pid: opts.pid },
    });
  }
  for (const field of ['info', 'who'] as const) {
    if (opts[field] !== undefined && typeof opts[field] !== 'string') {
      throw new BerthError('INVALID_ARGUMENT', `lock option ${field} must be a string`);
    }
  }
}
