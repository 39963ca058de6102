import type { LockInfo } from '../../engine/types.js';
import { BerthError } from '../../errors.js';

/*
 * Terraform's LockInfo (statemgr.LockInfo): the JSON its http backend sends with LOCK and
 * UNLOCK, and reads back from a 423 to learn who holds the lock.
 */

/** Terraform's lock info, as its http backend marshals it. */
export interface TerraformLockInfo {
  ID: string;
  Operation: string;
  Info: string;
  Who: string;
  Version: string;
  Created: string;
  Path: string;
}

const WHAT = 'Terraform\'s lock info: {"ID": "...", "Operation": "...", "Who": "...", ...}';

/**
 * The lock info of a LOCK or UNLOCK body: an object with a non-empty string `ID`; the
 * other fields are optional strings.
 * @throws INVALID_ARGUMENT
 */
export function parseTerraformLockInfo(text: string): Partial<TerraformLockInfo> & { ID: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BerthError('INVALID_ARGUMENT', `the request body is not JSON; send ${WHAT}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BerthError('INVALID_ARGUMENT', `the request body is not an object; send ${WHAT}`);
  }
  const info = body as Record<string, unknown>;
  if (typeof info.ID !== 'string' || info.ID === '') {
    throw new BerthError('INVALID_ARGUMENT', `the lock info has no "ID"; send ${WHAT}`);
  }
  for (const field of ['Operation', 'Info', 'Who', 'Version', 'Created', 'Path']) {
    if (info[field] !== undefined && typeof info[field] !== 'string') {
      throw new BerthError('INVALID_ARGUMENT', `the lock info's "${field}" must be a string; send ${WHAT}`, {
        details: { field },
      });
    }
  }
  return info as Partial<TerraformLockInfo> & { ID: string };
}

/** A berth lock as Terraform's lock info (its `Path` is the berth lock key). */
export function toTerraformLockInfo(lock: LockInfo): TerraformLockInfo {
  return {
    ID: lock.id,
    Operation: lock.operation,
    Info: lock.info,
    Who: lock.who,
    Version: lock.version,
    Created: lock.createdAt,
    Path: lock.key,
  };
}
