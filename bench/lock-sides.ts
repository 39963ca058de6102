import type BetterSqlite3 from 'better-sqlite3';
import { createHash, randomUUID } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from './berth.js';
import { applyMigrationFile, openRawDatabase } from './harness.js';

/*
 * The three implementations of one lock -> read -> write(counter + 1) -> unlock cycle that
 * bench/locks.ts compares, shared with the contention workers (bench/lock-worker.ts):
 *
 *   berth    store.workspaces.lock / readState / writeState({ lockId }) / unlock
 *   raw      the statements berth runs for those four calls (traced from the executor,
 *            src/engine/workspace-queries.ts), in the same transactions: BEGIN IMMEDIATE
 *            for lock, write and unlock, a deferred BEGIN for the read; lock and unlock
 *            commit with synchronous=NORMAL like berth's (lock-store.ts LOCK_COMMIT,
 *            sqlite-executor.ts: PRAGMA synchronous = NORMAL before BEGIN, FULL after)
 *   raw-1tx  (floor) one BEGIN IMMEDIATE transaction: read, update, history, event
 *   files    Terraform's local backend / Pulumi's file backend: a lock file created with
 *            O_EXCL holding the lock info, a state file per workspace replaced by
 *            temp file + fsync + rename + directory fsync, and a .backup copy of the
 *            previous state
 *
 * Waiting for a held lock follows berth's policy (src/engine/locks/locks.ts withLockWait:
 * poll with a plain read after 4 ms, the gap doubling to 25 ms, jittered by 0.5-1, and
 * attempt only when the lock looks free) on the raw and files sides too, so contention
 * compares the storage designs, not retry policies. (Terraform's own -lock-timeout starts
 * at 1 s.)
 */

export const ACTOR = 'bench@berth';
export const BENCH_WORKSPACE = 'bench';
export type SideName = 'berth' | 'raw' | 'raw-1tx' | 'files';
export const SIDES: readonly SideName[] = ['berth', 'raw', 'raw-1tx', 'files'];

/** How long a contended acquire may wait before the bench gives up. */
export const LOCK_TIMEOUT_MS = 60_000;

/** One side opened on its store: `cycle` runs one lock -> read -> write -> unlock. */
export interface LockSide {
  readonly name: SideName;
  /** Creates the workspace with no state (serial 0). */
  createWorkspace(ws: string): Promise<void> | void;
  cycle(ws: string, timeoutMs: number): Promise<void> | void;
  /** The counter of the workspace's state (0 before the first write). */
  counter(ws: string): Promise<number> | number;
  close(): Promise<void> | void;
}

/** The state document every side writes: a counter and ~1 KiB of resources, like a small stack. */
export function stateDoc(counter: number): Record<string, unknown> {
  const resources = [];
  for (let i = 0; i < 6; i++) {
    resources.push({
      type: 'container',
      name: `web-${i}`,
      id: `c0ffee${i}`.padEnd(64, '0'),
      attributes: { image: 'docker.io/library/nginx:1.27', ports: [8080 + i], labels: { app: 'web', tier: 'front' } },
    });
  }
  return { counter, resources };
}

function counterOf(state: unknown): number {
  return (state as { counter?: number } | null)?.counter ?? 0;
}

/**
 * Takes a lock as berth's withLockWait does: `attempt` (undefined while the lock is held)
 * first; after a failure, sleep, then attempt again only when `looksFree` (a plain read)
 * says the lock is free. Sleeps start at 4 ms and double to 25 ms, jittered by 0.5-1.
 */
async function waitForLock<T>(
  what: string,
  timeoutMs: number,
  attempt: () => T | undefined,
  looksFree: () => boolean,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 4;
  for (let first = true; ; first = false) {
    if (first || looksFree()) {
      const taken = attempt();
      if (taken !== undefined) return taken;
    }
    if (Date.now() >= deadline) throw new Error(`lock ${what} held for ${timeoutMs} ms`);
    const wait = Math.min(delay, deadline - Date.now());
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait) * (0.5 + Math.random() / 2)));
    delay = Math.min(delay * 2, 25);
  }
}

// ---------------------------------------------------------------- berth

class BerthSide implements LockSide {
  readonly name = 'berth' as const;
  constructor(private readonly store: Store) {}

  async createWorkspace(ws: string): Promise<void> {
    await this.store.workspaces.create(ws);
  }

  async cycle(ws: string, timeoutMs: number): Promise<void> {
    const w = this.store.workspaces;
    const lock = await w.lock(ws, { operation: 'bench', timeoutMs });
    const current = await w.readState(ws);
    await w.writeState(ws, stateDoc(counterOf(current.state) + 1), { lockId: lock.id });
    await w.unlock(ws, lock.id);
  }

  async counter(ws: string): Promise<number> {
    return counterOf((await this.store.workspaces.readState(ws)).state);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

// ---------------------------------------------------------------- raw

interface WorkspaceRow {
  lineage: string;
  serial: number;
  state_json: string | null;
}

/** The statements berth runs (as compiled by its executor), prepared once. */
function rawStatements(db: BetterSqlite3.Database) {
  return {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    syncNormal: db.prepare('PRAGMA synchronous = NORMAL'),
    syncFull: db.prepare('PRAGMA synchronous = FULL'),
    getWorkspace: db.prepare<[string, string], WorkspaceRow & { checksum: string | null }>(
      'SELECT namespace, name, lineage, serial, state_json, checksum, created_at, updated_at FROM workspaces WHERE namespace = ? AND name = ?',
    ),
    getWorkspaceHead: db.prepare<[string, string], Omit<WorkspaceRow, 'state_json'>>(
      'SELECT namespace, name, lineage, serial, checksum, created_at, updated_at FROM workspaces WHERE namespace = ? AND name = ?',
    ),
    insertWorkspace: db.prepare(
      'INSERT INTO workspaces (namespace, name, lineage, serial, state_json, checksum, created_at, updated_at) VALUES (?, ?, ?, 0, NULL, NULL, ?, ?)',
    ),
    getLock: db.prepare<[string], { id: string }>(
      'SELECT key, id, operation, who, info, version, created_at, pid, host, boot_id, fencing_token, ttl_ms, expires_at FROM locks WHERE key = ?',
    ),
    nextFencingToken: db.prepare<[], { value: string }>(
      "INSERT INTO berth_meta (key, value) VALUES ('fencing_token', '1') ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(berth_meta.value AS INTEGER) + 1 AS TEXT) RETURNING value",
    ),
    insertLock: db.prepare(
      'INSERT INTO locks (key, id, operation, who, info, version, created_at, pid, host, boot_id, fencing_token, ttl_ms, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)',
    ),
    deleteLock: db.prepare('DELETE FROM locks WHERE key = ? AND id = ?'),
    updateWorkspace: db.prepare(
      'UPDATE workspaces SET lineage = ?, serial = ?, state_json = ?, checksum = ?, updated_at = ? WHERE namespace = ? AND name = ?',
    ),
    insertVersion: db.prepare(
      'INSERT INTO state_versions (namespace, workspace, serial, lineage, checksum, state_json, created_at, who, operation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    pruneVersions: db.prepare(
      'DELETE FROM state_versions WHERE namespace = ? AND workspace = ? AND serial < (SELECT newer.serial FROM state_versions AS newer WHERE newer.namespace = ? AND newer.workspace = ? ORDER BY newer.serial DESC LIMIT ? OFFSET ?)',
    ),
    insertEvent: db.prepare(
      'INSERT INTO events (ts, namespace, type, subject_kind, subject_id, subject_name, actor, data_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
  };
}

const HISTORY_LIMIT = 1000;

class Held extends Error {}

/**
 * Raw better-sqlite3 doing what berth does: a lock row with a fencing token and an
 * event, the state read, a fenced write with history, pruning and an event, and the
 * lock row deleted with an event. `oneTx` instead does the read-modify-write in one
 * BEGIN IMMEDIATE transaction (the floor: no lock row at all).
 */
class RawSide implements LockSide {
  private readonly s: ReturnType<typeof rawStatements>;
  private readonly host = hostname();

  constructor(
    readonly name: 'raw' | 'raw-1tx',
    private readonly db: BetterSqlite3.Database,
    private readonly bootId: string,
  ) {
    this.s = rawStatements(db);
  }

  private tx<T>(fn: () => T, begin = this.s.begin): T {
    begin.run();
    try {
      const result = fn();
      this.s.commit.run();
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.s.rollback.run();
      throw err;
    }
  }

  /**
   * A lock or unlock transaction, committed like berth's LOCK_COMMIT writes: synchronous
   * NORMAL around it (WAL: no fsync at commit), back to FULL afterwards, failed or not.
   */
  private lockTx<T>(fn: () => T): T {
    this.s.syncNormal.run();
    try {
      return this.tx(fn);
    } finally {
      this.s.syncFull.run();
    }
  }

  createWorkspace(ws: string): Promise<void> {
    const now = Date.now();
    this.tx(() => {
      this.s.insertWorkspace.run('', ws, randomUUID(), now, now);
      this.s.insertEvent.run(now, '', 'workspace.create', 'workspace', null, ws, ACTOR, '{}');
    });
    return Promise.resolve();
  }

  private load(ws: string): WorkspaceRow {
    const row = this.s.getWorkspace.get('', ws);
    if (!row) throw new Error(`no workspace ${ws}`);
    return row;
  }

  /** The row without its state, as berth reads it to lock and to write. */
  private head(ws: string): Omit<WorkspaceRow, 'state_json'> {
    const row = this.s.getWorkspaceHead.get('', ws);
    if (!row) throw new Error(`no workspace ${ws}`);
    return row;
  }

  private acquire(ws: string): string {
    const key = `workspace:/${ws}`;
    return this.lockTx(() => {
      const now = Date.now();
      this.head(ws);
      if (this.s.getLock.get(key)) throw new Held();
      const token = Number(this.s.nextFencingToken.get()!.value);
      const id = randomUUID();
      this.s.insertLock.run(key, id, 'bench', ACTOR, '', '0.1.0', now, process.pid, this.host, this.bootId, token);
      const data = JSON.stringify({ operation: 'bench', who: ACTOR, fencingToken: token });
      this.s.insertEvent.run(now, '', 'lock.acquire', 'lock', id, key, ACTOR, data);
      return id;
    });
  }

  private read(ws: string): unknown {
    // One statement, as berth reads a state without secrets: no transaction of its own.
    const row = this.load(ws);
    return row.state_json === null ? null : JSON.parse(row.state_json);
  }

  private write(ws: string, doc: unknown, lockId: string): void {
    const text = JSON.stringify(doc);
    const checksum = createHash('sha256').update(text).digest('hex');
    const key = `workspace:/${ws}`;
    this.tx(() => {
      const now = Date.now();
      const row = this.head(ws);
      if (this.s.getLock.get(key)?.id !== lockId) throw new Error('LOCK_LOST');
      const serial = row.serial + 1;
      this.s.updateWorkspace.run(row.lineage, serial, text, checksum, now, '', ws);
      this.s.insertVersion.run('', ws, serial, row.lineage, checksum, text, now, ACTOR, 'write');
      this.s.pruneVersions.run('', ws, '', ws, 1, HISTORY_LIMIT - 1);
      const data = JSON.stringify({ lineage: row.lineage, serial, checksum, operation: 'write' });
      this.s.insertEvent.run(now, '', 'workspace.state.write', 'workspace', null, ws, ACTOR, data);
    });
  }

  private release(ws: string, lockId: string): void {
    const key = `workspace:/${ws}`;
    this.lockTx(() => {
      const now = Date.now();
      const row = this.s.getLock.get(key);
      if (row?.id !== lockId) throw new Error('LOCK_ID_MISMATCH');
      this.s.deleteLock.run(key, lockId);
      this.s.insertEvent.run(now, '', 'lock.release', 'lock', lockId, key, ACTOR, '{}');
    });
  }

  /** The floor: one IMMEDIATE transaction; SQLite's busy handler does the waiting. */
  private oneTransaction(ws: string): void {
    this.tx(() => {
      const now = Date.now();
      const row = this.load(ws);
      const doc = stateDoc(counterOf(row.state_json === null ? null : JSON.parse(row.state_json)) + 1);
      const text = JSON.stringify(doc);
      const checksum = createHash('sha256').update(text).digest('hex');
      const serial = row.serial + 1;
      this.s.updateWorkspace.run(row.lineage, serial, text, checksum, now, '', ws);
      this.s.insertVersion.run('', ws, serial, row.lineage, checksum, text, now, ACTOR, 'write');
      this.s.pruneVersions.run('', ws, '', ws, 1, HISTORY_LIMIT - 1);
      const data = JSON.stringify({ lineage: row.lineage, serial, checksum, operation: 'write' });
      this.s.insertEvent.run(now, '', 'workspace.state.write', 'workspace', null, ws, ACTOR, data);
    });
  }

  async cycle(ws: string, timeoutMs: number): Promise<void> {
    if (this.name === 'raw-1tx') return this.oneTransaction(ws);
    const key = `workspace:/${ws}`;
    const lockId = await waitForLock(
      ws,
      timeoutMs,
      () => {
        try {
          return this.acquire(ws);
        } catch (err) {
          if (err instanceof Held) return undefined;
          throw err;
        }
      },
      () => this.s.getLock.get(key) === undefined,
    );
    this.write(ws, stateDoc(counterOf(this.read(ws)) + 1), lockId);
    this.release(ws, lockId);
  }

  counter(ws: string): number {
    return counterOf(this.read(ws));
  }

  close(): void {
    this.db.close();
  }
}

// ---------------------------------------------------------------- files

/**
 * Terraform's local backend / Pulumi's file backend: `<ws>.tfstate` replaced atomically
 * and durably on every write (temp file, fsync, rename, fsync of the directory), the
 * previous state copied to `<ws>.tfstate.backup`, and the lock a file created with
 * O_CREAT|O_EXCL holding the lock info; unlock checks the id, then unlinks it.
 */
class FilesSide implements LockSide {
  readonly name = 'files' as const;
  private readonly who = `${ACTOR}`;

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private statePath(ws: string): string {
    return join(this.dir, `${ws}.tfstate`);
  }

  private lockPath(ws: string): string {
    return join(this.dir, `.${ws}.tfstate.lock.info`);
  }

  createWorkspace(ws: string): void {
    this.writeDurably(this.statePath(ws), { version: 4, serial: 0, lineage: randomUUID(), state: null });
  }

  private writeDurably(path: string, doc: unknown): void {
    const tmp = `${path}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(doc));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  /** O_EXCL create of the lock file; undefined while someone else holds it. */
  private tryAcquire(ws: string): string | undefined {
    let fd: number;
    try {
      fd = openSync(this.lockPath(ws), 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
      throw err;
    }
    const id = randomUUID();
    try {
      const info = { ID: id, Operation: 'bench', Who: this.who, Version: '0.1.0', Created: new Date().toISOString() };
      writeSync(fd, JSON.stringify(info));
    } finally {
      closeSync(fd);
    }
    return id;
  }

  private read(ws: string): { serial: number; lineage: string; state: unknown } {
    return JSON.parse(readFileSync(this.statePath(ws), 'utf8')) as { serial: number; lineage: string; state: unknown };
  }

  async cycle(ws: string, timeoutMs: number): Promise<void> {
    const lockId = await waitForLock(
      ws,
      timeoutMs,
      () => this.tryAcquire(ws),
      () => !existsSync(this.lockPath(ws)),
    );
    const current = this.read(ws);
    const path = this.statePath(ws);
    copyFileSync(path, `${path}.backup`);
    this.writeDurably(path, {
      version: 4,
      serial: current.serial + 1,
      lineage: current.lineage,
      state: stateDoc(counterOf(current.state) + 1),
    });
    const held = JSON.parse(readFileSync(this.lockPath(ws), 'utf8')) as { ID: string };
    if (held.ID !== lockId) throw new Error('lock id mismatch');
    unlinkSync(this.lockPath(ws));
  }

  counter(ws: string): number {
    return counterOf(this.read(ws).state);
  }

  close(): void {}
}

// ---------------------------------------------------------------- opening

/** Where each side keeps its data under `dir`. */
export function sideTarget(dir: string, side: SideName): string {
  if (side === 'berth') return join(dir, 'locks-berth.db');
  if (side === 'files') return join(dir, 'locks-files');
  return join(dir, 'locks-raw.db');
}

/** Creates the stores (once per bench run): berth's via openStore, raw's from the migrations. */
export async function createTargets(dir: string): Promise<void> {
  const store = await openStore({ path: sideTarget(dir, 'berth'), actor: ACTOR });
  await store.close();
  const rawFile = sideTarget(dir, 'raw');
  if (!existsSync(rawFile)) {
    const db = openRawDatabase(rawFile);
    try {
      applyMigrationFile(db, 'migrations/sqlite/001-object-store.sql');
      applyMigrationFile(db, 'migrations/sqlite/002-workspaces-and-locks.sql');
    } finally {
      db.close();
    }
  }
  mkdirSync(sideTarget(dir, 'files'), { recursive: true });
}

/** Opens one side on the targets under `dir`. */
export async function openSide(side: SideName, dir: string): Promise<LockSide> {
  const target = sideTarget(dir, side);
  if (side === 'berth') return new BerthSide(await openStore({ path: target, actor: ACTOR }));
  if (side === 'files') return new FilesSide(target);
  return new RawSide(side, openRawDatabase(target), bootId());
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}
