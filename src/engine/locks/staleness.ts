import type { LockRow } from '../../db/schema.js';
import type { Tx } from '../context.js';
import { appendEvent } from '../events/journal.js';
import { toLockInfo } from './lock-info.js';
import * as q from './queries.js';

/*
 * Lock staleness (DESIGN.md §5), in one place: when a lock is stale, and how a stale lock
 * is broken (with its `lock.break_stale` event).
 */

/** Why the reboot rule calls a lock stale. */
export const PRE_REBOOT = 'taken before this host rebooted';

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
 * Why a lock is stale at `now` as this host sees it, or undefined when it is live: its
 * lease expired, or it was taken on this host before its last reboot, or its holder
 * process on this host is gone.
 */
export function staleReason(tx: Pick<Tx, 'ctx'>, row: LockRow, now: number): string | undefined {
  if (row.expires_at !== null && row.expires_at <= now) return 'lease expired';
  if (row.host === tx.ctx.host) {
    if (row.boot_id !== tx.ctx.bootId) return PRE_REBOOT;
    if (row.pid !== 0 && row.pid !== process.pid && !isPidAlive(row.pid)) return `holder process ${row.pid} is gone`;
  }
  return undefined;
}

/** The event namespace of a lock key: a workspace lock belongs to its workspace's namespace. */
export function keyNamespace(key: string): string {
  const m = /^workspace:([^/]*)\//.exec(key);
  return m ? m[1]! : '';
}

/**
 * Removes a stale lock and records why, and by what (`breakStale`, `refresh`, `repair`).
 * The caller has checked that it is stale.
 */
export async function breakStaleLock(tx: Tx, row: LockRow, reason: string, by: string): Promise<void> {
  await tx.q.run(q.deleteLock, { key: row.key, id: row.id });
  await appendEvent(tx, {
    namespace: keyNamespace(row.key),
    type: 'lock.break_stale',
    subject: { kind: 'lock', id: row.id, name: row.key },
    data: { lock: toLockInfo(tx, row), reason, by },
  });
}

/** Breaks the locks this host took before its current boot (part of refresh). */
export async function breakPreRebootLocks(tx: Tx): Promise<void> {
  for (const row of await tx.q.all(q.hostLocks, { host: tx.ctx.host })) {
    if (staleReason(tx, row, tx.now) === PRE_REBOOT) await breakStaleLock(tx, row, PRE_REBOOT, 'refresh');
  }
}
