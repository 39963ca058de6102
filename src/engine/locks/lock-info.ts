import type { LockRow } from '../../db/schema.js';
import type { Tx } from '../context.js';
import { staleReason } from './staleness.js';
import type { LockInfo } from '../types.js';

/** A lock row in its public form, stale or not as of the transaction's time. */
export function toLockInfo(tx: Pick<Tx, 'ctx' | 'now'>, row: LockRow): LockInfo {
  const reason = staleReason(tx, row, tx.now);
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

export type { LockInfo };
