import { randomUUID } from 'node:crypto';
import type { LockRow } from '../../db/schema.js';
import { BerthError } from '../../errors.js';
import { BERTH_VERSION } from '../../version.js';
import type { Tx } from '../context.js';
import { appendEvent } from '../events/journal.js';
import { assertNonEmpty } from '../validate.js';
import { assertHolds, nextFencingToken } from './fencing.js';
import { toLockInfo, type LockInfo } from './lock-info.js';
import * as q from './queries.js';
import { breakStaleLock, keyNamespace, staleReason } from './staleness.js';
import type { AcquireOptions } from '../types.js';

/*
 * Locks as rows (DESIGN.md §5): atomic acquire, holder info, TTL leases that a renewal
 * never shortens, and force-unlock by exact id. Staleness lives in staleness.ts, fencing
 * in fencing.ts.
 */

/**
 * Taking and releasing a lock commit without waiting for the disk (SQLite: synchronous
 * NORMAL). Only a power loss can lose such a commit, and every lock from before a reboot
 * is cleared by the refresh after it; the first state write under the lock makes the
 * acquisition durable anyway. On PostgreSQL, shared by hosts, every commit is durable.
 */
export const LOCK_COMMIT = { durable: false } as const;

const MAX_LOCK_MS = 10 * 365 * 24 * 3600 * 1000;

/**
 * Validates acquire options before any transaction.
 * @throws INVALID_ARGUMENT
 */
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
  for (const field of ['host', 'version'] as const) {
    const v = opts[field];
    if (v !== undefined && (typeof v !== 'string' || v === '' || v.length > 200)) {
      throw new BerthError('INVALID_ARGUMENT', `lock option ${field} must be a string of 1 to 200 characters`, {
        details: { [field]: v },
      });
    }
  }
  if (opts.id !== undefined) {
    assertNonEmpty(opts.id, 'lock id');
    if (opts.id.length > 200) throw new BerthError('INVALID_ARGUMENT', 'a lock id is at most 200 characters long');
  }
}

/** The LOCKED error for a key held by `row`, with the holder and how to break it. */
export function lockedError(tx: Pick<Tx, 'ctx' | 'now'>, row: LockRow, what = `lock ${row.key}`): BerthError {
  const lock = toLockInfo(tx, row);
  const stale = lock.stale ? ` The lock looks stale (${lock.staleReason}).` : '';
  return new BerthError(
    'LOCKED',
    `${what} is locked by ${lock.who} (operation ${JSON.stringify(lock.operation)}, since ${lock.createdAt}, ${lock.pid ? `pid ${lock.pid} on ${lock.host}` : `on ${lock.host}`}, lock id ${lock.id}).${stale} Wait for it to be released, or, if no one holds it any more, run: berth force-unlock ${lock.id}`,
    { details: { lock } },
  );
}

/**
 * Takes the lock `key` inside the caller's transaction. A stale holder is broken only
 * with `breakStale`; the holder's own id takes it again as a no-op.
 * @throws LOCKED with the holder's LockInfo in details.lock
 */
export async function acquire(tx: Tx, key: string, opts: AcquireOptions, what?: string): Promise<LockInfo> {
  const held = await tx.q.get(q.getLock, { key });
  if (held) {
    if (opts.id !== undefined && held.id === opts.id) return toLockInfo(tx, held);
    const reason = opts.breakStale ? staleReason(tx, held, tx.now) : undefined;
    if (reason === undefined) throw lockedError(tx, held, what);
    await breakStaleLock(tx, held, reason, 'breakStale');
  }
  const token = await nextFencingToken(tx);
  const ttl = opts.ttlMs ?? null;
  const row: LockRow = {
    key,
    id: opts.id ?? randomUUID(),
    operation: opts.operation,
    who: opts.who ?? tx.ctx.actor,
    info: opts.info ?? '',
    version: opts.version ?? BERTH_VERSION,
    created_at: tx.now,
    pid: opts.pid ?? process.pid,
    host: opts.host ?? tx.ctx.host,
    boot_id: tx.ctx.bootId,
    fencing_token: token,
    ttl_ms: ttl,
    expires_at: ttl === null ? null : tx.now + ttl,
  };
  if (opts.id !== undefined && (await tx.q.get(q.getLockById, { id: opts.id }))) {
    throw new BerthError('INVALID_ARGUMENT', `lock id ${opts.id} already holds another lock; use a new id`, {
      details: { id: opts.id },
    });
  }
  await tx.q.run(q.insertLock, {
    key,
    id: row.id,
    operation: row.operation,
    who: row.who,
    info: row.info,
    version: row.version,
    now: tx.now,
    pid: row.pid,
    host: row.host,
    bootId: row.boot_id,
    token,
    ttl,
    expiresAt: row.expires_at,
  });
  await appendEvent(tx, {
    namespace: keyNamespace(key),
    type: 'lock.acquire',
    subject: { kind: 'lock', id: row.id, name: key },
    data: { operation: row.operation, who: row.who, fencingToken: token },
  });
  return toLockInfo(tx, row);
}

/**
 * Retries `attempt` while it fails with LOCKED, with backoff, for up to `timeoutMs`
 * of wall time (not the store's clock, which tests may freeze). With `isFree`, each retry
 * first asks it (a plain read) whether the lock is free, and attempts only then: a
 * waiter polls without taking the store's write lock, so it never holds up the holder's
 * own writes and release. The last LOCKED error (with the holder) is what a timeout throws.
 */
export async function withLockWait<T>(
  timeoutMs: number | undefined,
  attempt: () => Promise<T>,
  isFree?: () => Promise<boolean>,
): Promise<T> {
  const deadline = Date.now() + Math.max(0, timeoutMs ?? 0);
  // A poll is one indexed read, so it can come often: a waiter finds the lock free within
  // a few milliseconds of its release, instead of after a long sleep.
  let delay = isFree === undefined ? 25 : 4;
  const maxDelay = isFree === undefined ? 1000 : 25;
  let locked: BerthError | undefined;
  for (;;) {
    if (locked === undefined || isFree === undefined || (await isFree())) {
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof BerthError) || err.code !== 'LOCKED') throw err;
        locked = err;
      }
    }
    if (Date.now() >= deadline) throw locked;
    const wait = Math.min(delay, deadline - Date.now());
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait) * (0.5 + Math.random() / 2)));
    delay = Math.min(delay * 2, maxDelay);
  }
}

/**
 * Whether `key` is free to take (a plain read, for {@link withLockWait}). A held lock
 * that `breakStale` might break counts as free, so the attempt can judge it.
 */
export async function lockLooksFree(tx: Tx, key: string, opts: Pick<AcquireOptions, 'breakStale'>): Promise<boolean> {
  if (opts.breakStale) return true;
  return (await tx.q.get(q.getLock, { key })) === undefined;
}

/**
 * The row of `key` if `lockId` holds it. A wrong id is refused without telling the
 * holder's id: force-unlock takes the exact id, which only the holder (or `state
 * locks`) shows.
 * @throws NOT_LOCKED, LOCK_ID_MISMATCH
 */
export async function heldBy(tx: Tx, key: string, lockId: string): Promise<LockRow> {
  const row = await tx.q.get(q.getLock, { key });
  if (!row) {
    throw new BerthError('NOT_LOCKED', `${key} is not locked; nothing to release`, { details: { key } });
  }
  if (row.id !== lockId) {
    throw new BerthError(
      'LOCK_ID_MISMATCH',
      `${key} is locked by ${row.who} with another id than ${lockId}; pass the exact id printed when the lock was taken (\`berth state locks\` lists them)`,
      { details: { key, lockId } },
    );
  }
  return row;
}

/**
 * Releases a lock held with `lockId`.
 * @throws NOT_LOCKED, LOCK_ID_MISMATCH
 */
export async function release(tx: Tx, key: string, lockId: string): Promise<void> {
  const row = await heldBy(tx, key, lockId);
  await tx.q.run(q.deleteLock, { key, id: row.id });
  await appendEvent(tx, {
    namespace: keyNamespace(key),
    type: 'lock.release',
    subject: { kind: 'lock', id: row.id, name: key },
  });
}

/**
 * Renews a lease (never shortening it, even when the clock stepped back); proves the
 * caller still holds the lock.
 * @throws LOCK_LOST
 */
export async function heartbeat(tx: Tx, key: string, lockId: string): Promise<LockInfo> {
  const row = await assertHolds(tx, key, lockId);
  if (row.ttl_ms === null || row.expires_at === null) return toLockInfo(tx, row);
  const expiresAt = Math.max(row.expires_at, tx.now + row.ttl_ms);
  if (expiresAt !== row.expires_at) await tx.q.run(q.renewLock, { key, id: lockId, expiresAt });
  return toLockInfo(tx, { ...row, expires_at: expiresAt });
}

/**
 * Removes the lock `key` whatever its holder, given its exact id, and records who broke
 * whose lock (and whether it was stale). Returns the removed lock.
 * @throws NOT_LOCKED, LOCK_ID_MISMATCH
 */
export async function forceUnlock(tx: Tx, key: string, lockId: string, by?: string): Promise<LockInfo> {
  const row = await heldBy(tx, key, lockId);
  const removed = toLockInfo(tx, row);
  await tx.q.run(q.deleteLock, { key, id: row.id });
  await appendEvent(tx, {
    namespace: keyNamespace(key),
    type: 'lock.force_unlock',
    subject: { kind: 'lock', id: row.id, name: key },
    data: { lock: removed, brokenBy: by ?? tx.ctx.actor, holder: removed.who, stale: removed.stale },
  });
  return removed;
}

/** The lock on `key`, if any. */
export async function getLock(tx: Tx, key: string): Promise<LockInfo | undefined> {
  const row = await tx.q.get(q.getLock, { key });
  return row ? toLockInfo(tx, row) : undefined;
}

/** Every held lock, stale ones marked. */
export async function listLocks(tx: Tx): Promise<LockInfo[]> {
  return (await tx.q.all(q.allLocks, {})).map((row) => toLockInfo(tx, row));
}

export type { LockInfo };

export type { AcquireOptions };
