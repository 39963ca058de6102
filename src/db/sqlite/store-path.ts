import {
  accessSync,
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  realpathSync,
  statSync,
} from 'node:fs';
import type { Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BerthError } from '../../errors.js';
import { mapDriverError, osError, type FaultContext } from '../driver-errors.js';

/*
 * Store paths are checked before SQLite or mkdir touch them (DESIGN.md §2): every path
 * berth cannot use fails at once with a typed error naming the path at fault, and a
 * missing store is created only when the caller may create one.
 */

/** A store file that exists and may be opened. */
export interface StoreFile {
  /** The path as the caller named it (for messages). */
  path: string;
  /** The file itself, symbolic links resolved: SQLite puts -wal and -shm beside it. */
  realPath: string;
  /** Device and inode: two names of one file (a symbolic link, a hard link) share a connection. */
  identity: string;
}

/**
 * Checks the store path and, when `create` allows it, creates the missing folders (0700)
 * and an empty file (0600).
 * @throws NO_SUCH_STORE (missing, and `create` is false), STORE_UNAVAILABLE (a folder, a
 *   dangling link, a path below a file, a path the file system refuses, a full or
 *   read-only disk)
 */
export function prepareStoreFile(path: string, opts: { create: boolean }): StoreFile {
  let st = lstatOrMissing(path, path);
  if (st?.isSymbolicLink()) {
    const target = resolve(dirname(path), readlinkSync(path));
    st = statOrMissing(path, path);
    if (!st) {
      // A link to nothing: berth does not create files at the far end of a link.
      throw new BerthError(
        opts.create ? 'STORE_UNAVAILABLE' : 'NO_SUCH_STORE',
        `store ${path} is a symbolic link to ${target}, which does not exist; restore ${target}, or remove the link`,
        { details: { store: path, target } },
      );
    }
  }
  if (st) {
    if (st.isDirectory()) throw mapDriverError(osError('EISDIR', path), path);
    if (!st.isFile()) {
      throw new BerthError(
        'STORE_UNAVAILABLE',
        `store ${path} is not a regular file (a device, socket or pipe); name a store file instead`,
        { details: { store: path } },
      );
    }
  } else {
    if (!opts.create) {
      throw new BerthError(
        'NO_SUCH_STORE',
        `store ${path} does not exist; create it with \`berth init\` (or open it without readonly), and check the path`,
        { details: { store: path } },
      );
    }
    ensureFolder(dirname(path), { location: path });
    try {
      closeSync(openSync(path, 'a', 0o600));
    } catch (err) {
      throw mapDriverError(err, path);
    }
  }
  try {
    const real = realpathSync(path);
    const id = statSync(real);
    return { path, realPath: real, identity: `${id.dev}:${id.ino}` };
  } catch (err) {
    throw mapDriverError(err, path);
  }
}

/**
 * Creates `folder` and its missing parents (0700), one level at a time: a recursive
 * mkdir loops forever where the file system refuses new folders (/proc), this fails.
 */
export function ensureFolder(folder: string, fault: FaultContext & { location: string }): void {
  const missing: string[] = [];
  for (let dir = folder; ; dir = dirname(dir)) {
    const st = statOrMissing(dir, fault.location, fault);
    if (st) {
      if (!st.isDirectory()) throw mapDriverError(osError('ENOTDIR', dir), fault.location, fault);
      break;
    }
    missing.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      // Another process may have created it meanwhile: that is fine if it is a folder.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statOrMissing(dir, fault.location)?.isDirectory()) {
        continue;
      }
      throw mapDriverError(err, fault.location, fault);
    }
  }
}

/**
 * Fails unless this process may write `file` and create files beside it (SQLite's -wal,
 * -shm and -journal): SQLite would otherwise open the store read-only without a word and
 * fail only at the first write.
 * @throws STORE_UNAVAILABLE (read-only file system, permission denied)
 */
export function assertWritable(file: StoreFile): void {
  const folder = dirname(file.realPath);
  for (const p of [file.realPath, folder]) {
    try {
      accessSync(p, constants.W_OK);
    } catch (err) {
      const hint = p === folder ? 'berth needs to create its -wal and -shm files there' : undefined;
      throw mapDriverError(err, file.path, { path: p, ...(hint ? { hint } : {}) });
    }
  }
}

function lstatOrMissing(path: string, location: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw mapDriverError(err, location);
  }
}

function statOrMissing(path: string, location: string, fault?: FaultContext): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw mapDriverError(err, location, fault);
  }
}
