import BetterSqlite3 from 'better-sqlite3';
import { chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, mkdtempSync, openSync } from 'node:fs';
import { renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { BerthError } from '../../errors.js';
import { mapDriverError } from '../driver-errors.js';

/*
 * Stores berth cannot open because their file is damaged (STORE_CORRUPT): `berth doctor`
 * reports on them and `berth restore` replaces them, neither through a normal open
 * (which is exactly what fails). The damaged file is never modified: it is read through
 * a copy, and a restore keeps it beside the store as evidence.
 */

/**
 * How far event seqs leap after restoring a damaged store whose last seq cannot be read:
 * more events than a store writes between two backups.
 */
export const UNKNOWN_SEQ_LEAP = 1_000_000_000;

/** SQLite's files beside a store. */
const SIDECARS = ['-wal', '-shm', '-journal'] as const;

/** What can be read from a store file that does not open. */
export interface DamagedStoreReport {
  location: string;
  sizeBytes: number;
  /** The -wal, -shm and -journal files beside it, with their sizes. */
  sidecars: Record<string, number>;
  /** What SQLite's integrity check found, or why it could not run. */
  integrity: string[];
  /** The highest applied migration, when it can still be read. */
  schemaVersion: number | null;
  /** The newest event seq, when it can still be read (a restore carries it forward). */
  lastSeq: number | null;
}

/**
 * Reads what it can from a damaged store through a temporary copy of it (and its -wal),
 * so not even SQLite's -shm appears beside the original. `integrity: false` skips the
 * (slow) integrity check when only the last seq is wanted.
 * @throws STORE_UNAVAILABLE (no room for the copy in the temporary folder)
 */
export function inspectDamagedStore(file: string, opts: { integrity?: boolean } = {}): DamagedStoreReport {
  const sidecars: Record<string, number> = {};
  for (const s of SIDECARS) if (existsSync(file + s)) sidecars[s] = statSync(file + s).size;
  const report: DamagedStoreReport = {
    location: file,
    sizeBytes: statSync(file).size,
    sidecars,
    integrity: [],
    schemaVersion: null,
    lastSeq: null,
  };
  withTemporaryCopy(file, (copy) => {
    let db: BetterSqlite3.Database;
    try {
      db = new BetterSqlite3(copy, { fileMustExist: true });
    } catch (err) {
      report.integrity.push(`the file does not open as a SQLite database: ${(err as Error).message}`);
      return;
    }
    try {
      const attempt = <T>(fn: () => T): T | undefined => {
        try {
          return fn();
        } catch (err) {
          report.integrity.push((err as Error).message);
          return undefined;
        }
      };
      if (opts.integrity === false) {
        report.lastSeq = readLastSeq(db);
        return;
      }
      const check = attempt(() => db.pragma('integrity_check') as { integrity_check: string }[]);
      if (check) report.integrity.unshift(...check.map((r) => r.integrity_check));
      report.schemaVersion =
        attempt(() => (db.prepare('SELECT max(version) AS v FROM berth_migrations').get() as { v: number | null }).v) ??
        null;
      report.lastSeq = readLastSeq(db);
    } finally {
      db.close();
    }
  });
  report.integrity = [...new Set(report.integrity)];
  // A damaged file whose check still says "ok" failed elsewhere (its header): still damaged.
  if (report.integrity.join() === 'ok') report.integrity = ['the store does not open, though SQLite finds no damage'];
  return report;
}

/** The newest event seq the store handed out, or null when that part cannot be read. */
function readLastSeq(db: BetterSqlite3.Database): number | null {
  try {
    const row = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").get() as
      { seq: number } | undefined;
    return row ? Number(row.seq) : null;
  } catch {
    return null;
  }
}

/**
 * Puts the checked store file `replacement` (a migrated, intact berth store, closed) in
 * the place of the damaged store `file`, keeping the damaged file and its -wal as
 * `keptAs` (and `keptAs-wal`). Event seqs continue after `lastSeq` (the damaged store's;
 * when it cannot be read, after a leap), and followers from before it are told to resync. The
 * replacement is moved in with a rename, so the store is at every moment either the
 * damaged file or the whole replacement.
 * @throws STORE_UNAVAILABLE (the store's folder cannot take the new file)
 */
export function replaceDamagedStore(
  file: string,
  replacement: string,
  opts: { keptAs: string; lastSeq: number | null },
): void {
  const folder = dirname(file);
  const fault = { subject: `restoring store ${file}`, path: folder };
  const staged = join(folder, `.${basename(file)}.restoring-${process.pid}`);
  try {
    carrySeqForward(replacement, opts.lastSeq);
    copyFileSync(replacement, staged);
    chmodSync(staged, 0o600);
    syncFile(staged);
  } catch (err) {
    rmSync(staged, { force: true });
    throw mapDriverError(err, file, fault);
  }
  const moved: [string, string][] = [];
  try {
    for (const [from, to] of [
      [file, opts.keptAs],
      [file + '-wal', opts.keptAs + '-wal'],
    ] as const) {
      if (!existsSync(from)) continue;
      renameSync(from, to);
      moved.push([from, to]);
    }
    // The -shm and -journal belong to the damaged file; the new one must not inherit them.
    for (const s of ['-shm', '-journal']) rmSync(file + s, { force: true });
    renameSync(staged, file);
    syncFile(folder);
  } catch (err) {
    for (const [from, to] of moved.reverse()) renameSync(to, from);
    rmSync(staged, { force: true });
    throw mapDriverError(err, file, fault);
  }
}

/**
 * Makes the replacement's event seqs continue after the damaged store's last one and
 * marks everything up to it as pruned, so a follower resuming from before the restore
 * re-reads a snapshot instead of missing events.
 */
function carrySeqForward(replacement: string, lastSeq: number | null): void {
  const db = new BetterSqlite3(replacement, { fileMustExist: true });
  try {
    db.transaction(() => {
      // Unknown (that page is damaged too): leap far beyond the backup's last seq, so that
      // seqs still never go back and every follower of the damaged store resyncs.
      const through = lastSeq ?? (readLastSeq(db) ?? 0) + UNKNOWN_SEQ_LEAP;
      db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'events'").run(through);
      db.prepare(
        "INSERT INTO berth_meta (key, value) VALUES ('events_pruned_through', ?) ON CONFLICT (key) DO UPDATE SET value = CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)",
      ).run(String(through));
    }).immediate();
  } finally {
    db.close();
  }
}

/** Runs `fn` on a copy of `file` (with its -wal) in a temporary folder, removed afterwards. */
export function withTemporaryCopy<T>(file: string, fn: (copy: string) => T): T {
  let work: string | undefined;
  try {
    work = mkdtempSync(join(tmpdir(), 'berth-check-'));
    const copy = join(work, 'store.db');
    copyFileSync(file, copy);
    if (existsSync(file + '-wal')) copyFileSync(file + '-wal', copy + '-wal');
    return fn(copy);
  } catch (err) {
    if (err instanceof BerthError) throw err;
    throw mapDriverError(err, file, {
      subject: `the temporary copy of ${file}`,
      path: work ?? tmpdir(),
      hint: 'or point TMPDIR at a folder with room',
    });
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
