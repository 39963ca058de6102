import type BetterSqlite3 from 'better-sqlite3';
import { chmodSync, closeSync, lstatSync, openSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { BerthError } from '../../errors.js';
import { mapDriverError, type FaultContext } from '../driver-errors.js';
import { ensureFolder } from './store-path.js';

/**
 * A consistent online copy of the store into the new file `target` (SQLite's backup API,
 * taken while writers go on): its folder is created 0700 and the file 0600. Every fault
 * names the target, not the store, and a failed backup leaves no partial file behind.
 * @throws INVALID_ARGUMENT (target exists), STORE_UNAVAILABLE (target unusable: a path
 *   below a file, read-only, full, not writable)
 */
export async function backupSqlite(db: BetterSqlite3.Database, location: string, target: string): Promise<void> {
  const fault: FaultContext = { subject: `backup ${target}`, path: target };
  const exists = (): never => {
    throw new BerthError('INVALID_ARGUMENT', `${target} already exists; back up into a new file`, {
      details: { file: target },
    });
  };
  try {
    lstatSync(target);
    exists();
  } catch (err) {
    if (err instanceof BerthError) throw err;
    // ENOENT is the good case; anything else (a path below a file, a loop) is mapped below.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw mapDriverError(err, location, fault);
  }
  ensureFolder(dirname(target), { location, ...fault });
  try {
    // Created here, exclusively: a concurrent backup into the same name loses, and a
    // target berth cannot write fails before any page is copied.
    closeSync(openSync(target, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') exists();
    throw mapDriverError(err, location, fault);
  }
  try {
    await db.backup(target);
    chmodSync(target, 0o600);
  } catch (err) {
    // Mapped first: the file system is examined while the partial copy still fills it.
    const mapped = mapDriverError(err, location, fault);
    for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(target + suffix, { force: true });
    throw mapped;
  }
}
