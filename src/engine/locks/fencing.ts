import type { LockRow } from '../../db/schema.js';
import { BerthError } from '../../errors.js';
import type { Tx } from '../context.js';
import * as q from './queries.js';

/*
 * Fencing (DESIGN.md §5), in one place: every acquisition takes a store-wide token
 * bigger than all before it, and every write made under a lock id first proves that the
 * id still holds the lock, so a zombie holder can never overwrite the next holder's work.
 */

/** The next fencing token (bumped and read in one statement). */
export async function nextFencingToken(tx: Tx): Promise<number> {
  return Number((await tx.q.get(q.nextFencingToken, {}))!.value);
}

/**
 * The row of `key` when `lockId` still holds it.
 * @throws LOCK_LOST when it was force-unlocked, broken as stale, or never issued
 */
export async function assertHolds(tx: Tx, key: string, lockId: string): Promise<LockRow> {
  const row = await tx.q.get(q.getLock, { key });
  if (!row || row.id !== lockId) {
    throw new BerthError(
      'LOCK_LOST',
      `lock ${lockId} no longer holds ${key}${row ? ` (now held by ${row.who})` : ''}: it was force-unlocked, broken as stale, or never issued; nothing was written — take the lock again and re-read before writing`,
      { details: { key, lockId } },
    );
  }
  return row;
}
