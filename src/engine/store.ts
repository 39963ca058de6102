import type { Backend, QueryRunner, StorageReport } from '../db/executor.js';
import type { MigrationReport } from '../migrate/sqlite-migrator.js';
import type { LockInfo } from './lock-store.js';
import type { EngineContext } from './engine-base.js';
import { LockStore } from './lock-store.js';
import { ObjectStore } from './object-store.js';
import * as q from './object-queries.js';
import { WorkspaceStore } from './workspace-store.js';

/**
 * A handle on a berth store: the object store (containers, pods, volumes, ...), the
 * workspaces and the locks. Obtain one with `openStore()`.
 */
export class Store extends ObjectStore {
  /** Named stack states of the handle's namespace. */
  readonly workspaces: WorkspaceStore;
  /** Locks by key, store-wide. */
  readonly locks: LockStore;

  constructor(
    ctx: EngineContext,
    /** What opening the store migrated. */
    readonly migration: MigrationReport = { from: 0, to: 0, applied: [] },
  ) {
    super(ctx);
    this.locks = new LockStore(ctx);
    this.workspaces = new WorkspaceStore(ctx, this.locks);
  }

  /** Which database the store lives in. */
  get backend(): Backend {
    return this.ctx.exec.backend;
  }

  /** Where the store lives: a file path, or a PostgreSQL URL without its password. */
  get location(): string {
    return this.ctx.exec.location;
  }

  /** Refresh also clears the locks this host took before it rebooted. */
  protected override async refreshIn(tx: QueryRunner, now: number, reason: string): Promise<void> {
    await super.refreshIn(tx, now, reason);
    await this.locks.clearPreRebootLocks(tx, now);
  }

  /**
   * Runs {@link refresh} once when the host rebooted since the store last saw it. The
   * write transaction is the store's lock: a second process waits, then finds the boot
   * id already recorded and does nothing.
   */
  async refreshAfterReboot(): Promise<boolean> {
    const bootId = this.ctx.bootId;
    const seen = await this.ctx.exec.direct.get(q.getMeta, { key: 'boot_id' });
    if (seen?.value === bootId) return false;
    return this.write(async (tx, now) => {
      const current = await tx.get(q.getMeta, { key: 'boot_id' });
      if (current?.value === bootId) return false;
      if (current !== undefined) await this.refreshIn(tx, now, 'reboot');
      await tx.run(q.putMeta, { key: 'boot_id', value: bootId });
      return current !== undefined;
    });
  }

  /**
   * A health report for `berth doctor`: schema, the database's integrity check,
   * dangling references, boot ids and stale locks. Changes nothing.
   */
  async diagnose(): Promise<DiagnosisReport> {
    this.assertOpen();
    const storage = await this.ctx.exec.inspect();
    const recorded = await this.ctx.exec.direct.get(q.getMeta, { key: 'boot_id' });
    const locks = await this.locks.list();
    return {
      backend: this.backend,
      location: this.location,
      ...storage,
      bootId: { current: this.ctx.bootId, recorded: recorded?.value ?? null },
      locks: locks.length,
      staleLocks: locks.filter((l) => l.stale),
    };
  }

  /** Closes the store; every later call fails with STORE_CLOSED. Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.ctx.closed) return;
    this.ctx.closed = true;
    await this.ctx.exec.close();
  }
}

/** The result of {@link Store.diagnose}. */
export interface DiagnosisReport extends StorageReport {
  backend: Backend;
  location: string;
  bootId: { current: string; recorded: string | null };
  locks: number;
  staleLocks: LockInfo[];
}
