import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { BackendOpenOptions, OpenedBackend } from './db/executor.js';
import { openSqlite } from './db/sqlite/open.js';
import { currentBootId } from './engine/boot-id.js';
import { assertNamespace } from './engine/rules/namespaces.js';
import { loadSecretsKey } from './engine/secrets/crypto.js';
import { openedStore, type Store } from './store.js';
import { BerthError, isBerthError } from './errors.js';
import type { CopyReport } from './db/backend.js';
import { mapDriverError } from './db/driver-errors.js';
import { inspectDamagedStore, replaceDamagedStore, type DamagedStoreReport } from './db/sqlite/damaged-store.js';
import { resolveStoreLocation } from './store-location.js';

/** Options of {@link openStore} (API.md). */
export interface OpenStoreOptions {
  /** A SQLite file, created with its folder if missing (unless `create` is false). */
  path?: string;
  /** A `postgres://` URL (or a SQLite path). */
  url?: string;
  /** The PostgreSQL schema to use, so several stores can share a database. */
  schema?: string;
  /** The namespace this handle is confined to; '' (default) sees all. */
  namespace?: string;
  /** How long to wait for another process's write transaction (default 5000 ms). */
  busyTimeoutMs?: number;
  /**
   * SQLite's page cache of the store's connection, in KiB (default 16384). The first
   * handle that opens a file in a process sets it for every handle on that file. A
   * one-shot process (the CLI uses 2048) reads most pages once: a small cache keeps its
   * memory flat however big the store, and a scan faster. PostgreSQL ignores it.
   */
  cacheSizeKiB?: number;
  /**
   * A handle that only reads: every write fails with INVALID_ARGUMENT. It never creates,
   * migrates or refreshes the store, so a missing store is NO_SUCH_STORE.
   */
  readonly?: boolean;
  /**
   * Create the store when it does not exist (default true): the SQLite file with its
   * folders, or the PostgreSQL schema and tables. With false, a missing store is
   * NO_SUCH_STORE and nothing is created — no file, folder or schema (DESIGN.md §2: what
   * read-only commands use for an explicitly named store). An existing store may still be
   * migrated or refreshed.
   */
  create?: boolean;
  /** Milliseconds since the epoch (default Date.now); tests move it. */
  clock?: () => number;
  /** This host's boot id (default: the kernel's); simulations of a reboot change it. */
  bootId?: string;
  /** Who acts, recorded in events and locks (default user@host). */
  actor?: string;
  /** Versions of each workspace's state kept in history (default 1000). */
  historyLimit?: number;
  /** Run refresh() by itself when the host rebooted since the store last saw it (default true). */
  refreshAfterReboot?: boolean;
  /** How long and how many events the journal keeps (default 30 days, 1,000,000 events). */
  eventRetention?: { maxAgeMs?: number; maxEvents?: number };
  /**
   * The key that wraps the workspaces' data keys for secret values: 32 bytes, or their
   * base64/hex text (default: BERTH_SECRETS_KEY, else the file BERTH_SECRETS_KEY_FILE).
   */
  secretsKey?: string | Buffer;
  /** A file holding the secrets key as base64 or hex (instead of `secretsKey`). */
  secretsKeyFile?: string;
}

/**
 * Opens (and creates, migrates, and after a reboot refreshes) a berth store.
 * @throws NO_SUCH_STORE (missing, with `readonly` or `create: false`), STORE_UNAVAILABLE
 *   (unusable path, full or read-only disk, no permission, server unreachable),
 *   STORE_CORRUPT, SCHEMA_TOO_NEW, MIGRATION_CHECKSUM_MISMATCH, STORE_BUSY,
 *   INVALID_ARGUMENT (an option), INVALID_NAME (the namespace), SECRETS_KEY_INVALID
 */
export async function openStore(opts: OpenStoreOptions = {}): Promise<Store> {
  const location = resolveStoreLocation(opts.path ?? opts.url);
  const busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
  if (!Number.isFinite(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `busyTimeoutMs must be a non-negative number of milliseconds, not ${String(busyTimeoutMs)}`,
    );
  }
  const cacheSizeKiB = opts.cacheSizeKiB ?? 16384;
  if (!Number.isInteger(cacheSizeKiB) || cacheSizeKiB < 64 || cacheSizeKiB > 16 * 1024 * 1024) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `cacheSizeKiB must be a whole number of KiB from 64 to 16777216 (16 GiB), not ${String(cacheSizeKiB)}`,
    );
  }
  const namespace = opts.namespace ?? '';
  assertNamespace(namespace);
  const clock = opts.clock ?? Date.now;
  if (typeof clock !== 'function' || !Number.isFinite(clock())) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      'the clock option must be a function returning milliseconds since the epoch (like Date.now); it returned no finite number',
    );
  }
  const historyLimit = opts.historyLimit ?? 1000;
  if (!Number.isInteger(historyLimit) || historyLimit < 1) {
    throw new BerthError('INVALID_ARGUMENT', `historyLimit must be a positive integer, not ${String(historyLimit)}`);
  }
  const eventRetention = {
    maxAgeMs: opts.eventRetention?.maxAgeMs ?? 30 * 24 * 3600 * 1000,
    maxEvents: opts.eventRetention?.maxEvents ?? 1_000_000,
  };
  for (const [field, value] of Object.entries(eventRetention)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `eventRetention.${field} must be a positive integer, not ${String(value)}`,
      );
    }
  }
  const secrets = { key: loadSecretsKey(opts) };
  const readonly = opts.readonly ?? false;
  const actor = opts.actor ?? defaultActor();
  const create = opts.create ?? true;
  if (typeof create !== 'boolean') throw new BerthError('INVALID_ARGUMENT', 'create must be true or false');
  const shared = await openBackend(location, opts.schema, {
    readonly,
    create,
    busyTimeoutMs,
    cacheSizeKiB,
    clock,
    actor,
  });
  const store = openedStore(
    {
      exec: shared.exec,
      clock,
      clockInjected: opts.clock !== undefined,
      actor,
      host: hostname(),
      bootId: opts.bootId ?? currentBootId(),
      historyLimit,
      secrets,
      dataKeys: new Map(),
      readonly,
      eventRetention,
      life: { closed: false },
      release: shared.release,
    },
    shared.migration,
    namespace,
  );
  if (!readonly && opts.refreshAfterReboot !== false) {
    try {
      await store.refreshAfterReboot();
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  return store;
}

/** Opens the storage of a store location: SQLite in-process, PostgreSQL only when asked for. */
async function openBackend(
  location: ReturnType<typeof resolveStoreLocation>,
  schema: string | undefined,
  opts: BackendOpenOptions,
): Promise<OpenedBackend> {
  if (location.kind === 'sqlite') return openSqlite(location.path, opts);
  const { openPostgres } = await import('./db/postgres/open.js');
  return openPostgres(location.url, schema, opts);
}

function defaultActor(): string {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for this uid (containers): keep $USER.
  }
  return `${user}@${hostname()}`;
}

/**
 * Copies the whole store at `from` (objects, workspaces with history, locks, events)
 * into the new, empty store at `to` — SQLite to PostgreSQL or the reverse — verifying
 * counts and checksums before the copy commits. Both are migrated first.
 * @throws INVALID_ARGUMENT (target not empty), INTERNAL (verification failed)
 */
export async function copyStoreTo(
  from: { path?: string; url?: string; schema?: string },
  to: { path?: string; url?: string; schema?: string },
): Promise<CopyReport> {
  const common = { readonly: false, busyTimeoutMs: 5000, cacheSizeKiB: 16384, clock: Date.now, actor: defaultActor() };
  const open = (o: { path?: string; url?: string; schema?: string }) =>
    openBackend(resolveStoreLocation(o.path ?? o.url), o.schema, common);
  const source = await open(from);
  try {
    const target = await open(to);
    try {
      if (source.exec.location === target.exec.location) {
        throw new BerthError('INVALID_ARGUMENT', 'the source and the target are the same store');
      }
      const { copyStore } = await import('./db/copy-store.js');
      return await copyStore(source.exec, target.exec);
    } finally {
      await target.release();
    }
  } finally {
    await source.release();
  }
}

/**
 * Restores a SQLite store from a backup file. The backup is checked first on a copy —
 * it must be an intact berth store no newer than this berth (an older one is migrated)
 * — and the store being replaced is kept as `<store>.before-restore-<time>.db`. Then
 * every row is replaced in one transaction. A store that is itself damaged cannot be
 * refilled row by row: close it and use {@link restoreDamagedStore}.
 * @throws STORE_CORRUPT (the backup, or the store: `details.damaged`), SCHEMA_TOO_NEW,
 *   INVALID_ARGUMENT (missing file, not SQLite), STORE_UNAVAILABLE (no room for the
 *   check's copy or for the kept store)
 * @returns where the replaced store was kept
 */
export async function restoreStore(store: Store, file: string): Promise<{ keptAs: string }> {
  const source = resolve(file);
  return withCheckedBackup(source, store.location, async (copy) => {
    const { integrity } = await store.diagnose();
    if (integrity.join() !== 'ok') {
      throw new BerthError(
        'STORE_CORRUPT',
        `store ${store.location} is damaged (${integrity.slice(0, 3).join('; ')}); close every handle on it and replace its file with \`berth restore ${source} --force\`; nothing was changed`,
        { details: { store: store.location, damaged: true, integrity } },
      );
    }
    const keptAs = keptName(store.location);
    await store.backup(keptAs);
    try {
      await store.replaceContents(copy, source);
    } catch (err) {
      // Nothing was replaced: a copy of the unchanged store would only pile up on retries.
      rmSync(keptAs, { force: true });
      throw err;
    }
    return { keptAs };
  });
}

/**
 * Restores a SQLite store that does not open because its file is damaged (STORE_CORRUPT
 * with `details.damaged`): the backup is checked as for {@link restoreStore}, the
 * damaged file (and its -wal) is moved aside to `<store>.before-restore-<time>.db` as
 * evidence, and the checked copy is renamed into its place; event seqs continue after
 * the damaged store's when they can still be read. No handle may be open on the store.
 * @throws STORE_CORRUPT, SCHEMA_TOO_NEW, INVALID_ARGUMENT, STORE_UNAVAILABLE
 * @returns where the damaged store was kept
 */
export async function restoreDamagedStore(path: string, file: string): Promise<{ keptAs: string }> {
  const location = resolveStoreLocation(path);
  if (location.kind !== 'sqlite') {
    throw new BerthError('INVALID_ARGUMENT', 'PostgreSQL stores are restored with their own tools (pg_restore)');
  }
  const source = resolve(file);
  return withCheckedBackup(source, location.path, async (copy) => {
    const { lastSeq } = inspectDamagedStore(location.path, { integrity: false });
    const keptAs = keptName(location.path);
    replaceDamagedStore(location.path, copy, { keptAs, lastSeq });
    const store = await openStore({ path: location.path });
    try {
      await store.events.append({
        namespace: '',
        type: 'store.restore',
        subject: { kind: 'store' },
        data: { from: source, keptAs, damaged: true },
      });
    } finally {
      await store.close();
    }
    return { keptAs };
  });
}

/**
 * What can be read from a SQLite store that does not open because its file is damaged,
 * for `berth doctor`; the file is read through a temporary copy and never touched.
 * @throws STORE_UNAVAILABLE (no room for the copy)
 */
export function diagnoseDamagedStore(path: string): DamagedStoreReport {
  return inspectDamagedStore(resolveStoreLocation(path).kind === 'sqlite' ? resolve(path) : path);
}

/**
 * True for the STORE_CORRUPT error of a store whose file is damaged — the error whose
 * message sends people to `berth doctor` and `berth restore` — and not for a foreign
 * database, a newer schema or a damaged backup.
 */
export function isDamagedStoreError(err: unknown): err is BerthError {
  return isBerthError(err, 'STORE_CORRUPT') && err.details.damaged === true;
}

function keptName(location: string): string {
  return `${location}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}.db`;
}

/**
 * Copies the backup `source` into a temporary folder, checks the copy (an intact berth
 * store no newer than this berth; an older one is migrated) and runs `fn` on it.
 */
async function withCheckedBackup<T>(source: string, store: string, fn: (copy: string) => Promise<T>): Promise<T> {
  if (!existsSync(source)) {
    throw new BerthError('INVALID_ARGUMENT', `backup ${source} does not exist`, { details: { file: source } });
  }
  let work: string | undefined;
  const copy = (): string => {
    work = mkdtempSync(join(tmpdir(), 'berth-restore-'));
    const file = join(work, 'restore.db');
    copyFileSync(source, file);
    chmodSync(file, 0o600);
    return file;
  };
  try {
    let checkedCopy: string;
    try {
      checkedCopy = copy();
    } catch (err) {
      throw mapDriverError(err, store, {
        subject: `the temporary copy of backup ${source}`,
        path: work ?? tmpdir(),
        hint: 'or point TMPDIR at a folder with room; nothing was changed',
      });
    }
    await checkBackup(source, checkedCopy);
    return await fn(checkedCopy);
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
}

/** Checks the copy of a backup: an intact berth store, no newer than this berth. */
async function checkBackup(source: string, copy: string): Promise<void> {
  // Checked as it is: no refresh, whatever boot it was taken in.
  const checked = await openStore({ path: copy, refreshAfterReboot: false }).catch((err: unknown) => {
    if (err instanceof BerthError && (err.code === 'STORE_CORRUPT' || err.code === 'SCHEMA_TOO_NEW')) {
      const why =
        err.code === 'SCHEMA_TOO_NEW'
          ? 'was written by a newer berth; upgrade berth first'
          : 'is damaged or is not a berth store';
      const { damaged: _damaged, foreign: _foreign, ...rest } = err.details;
      throw new BerthError(err.code, `backup ${source} ${why}; nothing was changed`, {
        details: { ...rest, file: source },
        cause: err,
      });
    }
    if (err instanceof BerthError && err.code === 'STORE_UNAVAILABLE') {
      throw new BerthError(
        'STORE_UNAVAILABLE',
        `backup ${source} could not be checked: ${err.message}; nothing was changed`,
        {
          details: { ...err.details, file: source },
          cause: err,
        },
      );
    }
    throw err;
  });
  try {
    if (checked.migration.from === 0) {
      throw new BerthError(
        'STORE_CORRUPT',
        `${source} is not a berth store (it has no berth schema); nothing was changed`,
        { details: { file: source } },
      );
    }
    const report = await checked.diagnose();
    if (report.integrity.join() !== 'ok') {
      throw new BerthError(
        'STORE_CORRUPT',
        `backup ${source} is damaged (${report.integrity.slice(0, 3).join('; ')}); nothing was changed`,
        { details: { file: source, integrity: report.integrity } },
      );
    }
  } finally {
    await checked.close();
  }
}
