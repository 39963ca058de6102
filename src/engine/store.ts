import type { Backend, QueryRunner, StorageReport } from '../db/executor.js';
import type { MigrationReport } from '../db/migrations.js';
import type { LockInfo } from './lock-store.js';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { BerthError } from '../errors.js';
import { assertNonEmpty } from './validate.js';
import type { EngineContext } from './engine-base.js';
import { LockStore } from './lock-store.js';
import { SecretsStore } from './secret-store.js';
import { ObjectStore } from './object-store.js';
import * as q from './object-queries.js';
import * as wq from './workspace-queries.js';
import { WorkspaceStore, type WorkspaceInfo } from './workspace-store.js';
import { EventStore, lastSeqIn } from './event-store.js';
import { toContainer, toPod, toVolume } from './row-mappers.js';
import type { Container, Pod, Volume } from './types.js';

/**
 * A handle on a berth store: the object store (containers, pods, volumes, ...), the
 * workspaces and the locks. Obtain one with `openStore()`.
 */
export class Store extends ObjectStore {
  /** Named stack states of the handle's namespace. */
  readonly workspaces: WorkspaceStore;
  /** Locks by key, store-wide. */
  readonly locks: LockStore;
  /** The event journal. */
  readonly events: EventStore;
  /** Secret values: status, reveal, key rotation. */
  readonly secrets: SecretsStore;

  constructor(
    ctx: EngineContext,
    /** What opening the store migrated. */
    readonly migration: MigrationReport = { from: 0, to: 0, applied: [] },
  ) {
    super(ctx);
    this.locks = new LockStore(ctx);
    this.secrets = new SecretsStore(ctx);
    this.workspaces = new WorkspaceStore(ctx, this.locks, this.secrets);
    this.events = new EventStore(ctx);
    ctx.afterWrite ??= journalPruner(this.events);
  }

  /**
   * Another handle on the same connection, confined to `ns`. It needs no close of its
   * own: it lives as long as this handle.
   * @throws NAMESPACE_MISMATCH when this handle is confined to another namespace
   */
  withNamespace(ns: string): this {
    this.assertOpen();
    if (this.ctx.namespace !== '' && ns !== this.ctx.namespace) {
      throw new BerthError(
        'NAMESPACE_MISMATCH',
        `this handle is confined to namespace ${JSON.stringify(this.ctx.namespace)}, not ${JSON.stringify(ns)}`,
        { details: { namespace: ns, storeNamespace: this.ctx.namespace } },
      );
    }
    if (ns === this.ctx.namespace) return this;
    const Ctor = this.constructor as new (ctx: EngineContext, migration: MigrationReport) => this;
    return new Ctor({ ...this.ctx, namespace: ns, release: async () => undefined }, this.migration);
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
    // A PostgreSQL store is shared by several hosts: each host's boot is tracked on its own,
    // so a host's first contact is not mistaken for a reboot.
    const key = this.backend === 'postgres' ? `boot_id:${this.ctx.host}` : 'boot_id';
    const seen = await this.direct.get(q.getMeta, { key });
    if (seen?.value === bootId) return false;
    return this.write(async (tx, now) => {
      const current = await tx.get(q.getMeta, { key });
      if (current?.value === bootId) return false;
      if (current !== undefined) await this.refreshIn(tx, now, 'reboot');
      await tx.run(q.putMeta, { key, value: bootId });
      return current !== undefined;
    });
  }

  /**
   * Runs `fn` as one write transaction: every store call awaited inside it joins, and
   * all their changes (and events) commit together or not at all. A call that fails
   * inside dooms the transaction. Do not take locks with a timeout inside it.
   */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.runTransaction(fn);
  }

  /**
   * The objects, workspaces and locks of the handle's namespace as of one snapshot,
   * with the event seq they were read at: follow the journal with `since: seq` and
   * nothing is missed or seen twice.
   */
  async snapshot(): Promise<Snapshot> {
    this.assertOpen();
    const ns = { ns: this.ctx.namespace };
    return this.read(async (tx) => {
      const seq = await lastSeqIn(tx);
      const containers = (await tx.all(q.allContainers, ns)).map(toContainer);
      const pods = (await tx.all(q.allPods, ns)).map(toPod);
      const volumes = (await tx.all(q.allVolumes, ns)).map(toVolume);
      const now = this.ctx.clock();
      const locks = (await tx.all(wq.allLocks, {})).map((row) => this.locks.toLockInfo(row, now));
      const workspaces = (await tx.all(wq.listWorkspaces, ns)).map((w) => ({
        name: w.name,
        namespace: w.namespace,
        lineage: w.lineage,
        serial: w.serial,
        createdAt: new Date(w.created_at).toISOString(),
        updatedAt: new Date(w.updated_at).toISOString(),
      }));
      return { seq, containers, pods, volumes, workspaces, locks };
    });
  }

  /**
   * A health report for `berth doctor`: schema, the database's integrity check,
   * dangling references, boot ids and stale locks. Changes nothing.
   */
  async diagnose(): Promise<DiagnosisReport> {
    this.assertOpen();
    const storage = await this.ctx.exec.inspect();
    // A damaged store is reported, not thrown: what cannot be read becomes a finding.
    const attempt = async <T>(fn: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        storage.integrity = [...storage.integrity.filter((i) => i !== 'ok'), (err as Error).message];
        return fallback;
      }
    };
    const recorded = await attempt(async () => this.direct.get(q.getMeta, { key: 'boot_id' }), undefined);
    const locks = await attempt(() => this.locks.list(), []);
    const orphanIds = await attempt(
      async () => Number((await this.direct.get(q.countDanglingObjectIds, {}))?.n ?? 0),
      0,
    );
    if (orphanIds > 0) {
      storage.danglingReferences = [
        ...storage.danglingReferences,
        `object_ids: ${orphanIds} registry entr${orphanIds === 1 ? 'y names' : 'ies name'} no container or pod (the name stays taken)`,
      ];
    }
    return {
      backend: this.backend,
      location: this.location,
      ...storage,
      bootId: { current: this.ctx.bootId, recorded: recorded?.value ?? null },
      locks: locks.length,
      staleLocks: locks.filter((l) => l.stale),
    };
  }

  /**
   * A consistent copy of the store in a new file (0600), taken online while writers go
   * on. SQLite only (PostgreSQL: use pg_dump).
   * @throws INVALID_ARGUMENT (file exists, or not SQLite), STORE_UNAVAILABLE (the target
   *   cannot be written: full, read-only, below a file)
   */
  async backup(file: string): Promise<{ file: string; bytes: number }> {
    this.assertOpen();
    const exec = this.ctx.exec;
    if (!exec.backup) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `${this.backend} stores are backed up with their own tools (pg_dump); berth backup copies SQLite stores`,
      );
    }
    assertNonEmpty(file, 'backup file');
    const target = resolve(file);
    // The executor checks and creates the target (db/sqlite/backup.ts).
    await exec.backup(target);
    return { file: target, bytes: statSync(target).size };
  }

  /**
   * Replaces the whole content of the store with that of `file`, a checked berth store of
   * the same schema (see restoreStore), in one transaction. Event seqs never go back:
   * readers resuming from before the restore are told to resync.
   */
  async replaceContents(file: string, restoredFrom: string): Promise<void> {
    this.assertOpen();
    const exec = this.ctx.exec;
    if (!exec.replaceContents) {
      throw new BerthError('INVALID_ARGUMENT', `${this.backend} stores are restored with their own tools (pg_restore)`);
    }
    const before = await this.events.lastSeq();
    await exec.replaceContents(file);
    await this.write(async (tx, now) => {
      await tx.run(q.putMeta, { key: 'events_pruned_through', value: String(before) });
      await this.event(tx, now, {
        namespace: '',
        type: 'store.restore',
        subject: { kind: 'store' },
        data: { from: restoredFrom },
      });
    });
  }

  /**
   * Fixes what can be fixed safely, in one transaction: removes link rows whose
   * container, dependency or volume is gone, registry entries without their object, and
   * stale locks (each with an event). Take a backup first (berth doctor --repair does).
   */
  async repair(): Promise<RepairReport> {
    return this.write(async (tx, now) => {
      const report: RepairReport = {
        dependencies: await tx.run(q.danglingDependencies, {}),
        containerVolumes: await tx.run(q.danglingContainerVolumes, {}),
        execSessions: await tx.run(q.danglingExecSessions, {}),
        objectIds: await tx.run(q.danglingObjectIds, {}),
        staleLocks: [],
      };
      for (const row of await tx.all(wq.allLocks, {})) {
        const reason = this.locks.staleReason(row, now);
        if (reason === undefined) continue;
        report.staleLocks.push(row.id);
        await tx.run(wq.deleteLock, { key: row.key, id: row.id });
        await this.event(tx, now, {
          namespace: '',
          type: 'lock.break_stale',
          subject: { kind: 'lock', id: row.id, name: row.key },
          data: { lock: this.locks.toLockInfo(row, now), reason, by: 'repair' },
        });
      }
      return report;
    });
  }

  /** Closes the store; every later call fails with STORE_CLOSED. Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.ctx.closed) return;
    this.ctx.closed = true;
    await this.ctx.release();
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

/** The result of {@link Store.snapshot}. */
export interface Snapshot {
  seq: number;
  containers: Container[];
  pods: Pod[];
  volumes: Volume[];
  workspaces: Pick<WorkspaceInfo, 'name' | 'namespace' | 'lineage' | 'serial' | 'createdAt' | 'updatedAt'>[];
  locks: LockInfo[];
}

/** Every this many committed writes, the journal is pruned to its retention in the background. */
const PRUNE_EVERY = 512;

function journalPruner(events: EventStore): () => void {
  let writes = 0;
  let running = false;
  return () => {
    if (++writes % PRUNE_EVERY !== 0 || running) return;
    running = true;
    setImmediate(() => {
      events
        .prune()
        .catch(() => undefined) // Pruning is housekeeping: the next round retries.
        .finally(() => {
          running = false;
        });
    });
  };
}

/** What {@link Store.repair} removed. */
export interface RepairReport {
  dependencies: number;
  containerVolumes: number;
  execSessions: number;
  objectIds: number;
  staleLocks: string[];
}
