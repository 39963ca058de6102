import type { Tx } from './context.js';
import { lastSeq, markPrunedThrough } from './events/events.js';
import { appendEvent } from './events/journal.js';
import { toLockInfo } from './locks/lock-info.js';
import { allLocks } from './locks/queries.js';
import { breakStaleLock, staleReason } from './locks/staleness.js';
import { bootIdKey, readMeta, writeMeta } from './meta.js';
import { refresh } from './objects/runtime.js';
import * as q from './objects/queries.js';
import { toContainer, toPod, toVolume } from './objects/rows.js';
import { listWorkspaces as listWorkspaceRows } from './workspaces/queries.js';
import type { Snapshot, DiagnosisReport, RepairReport } from './types.js';

/* Store-wide operations: the reboot refresh, snapshots, health reports and repair. */

/** Whether this host's boot id is the one the store recorded. */
export async function bootIsRecorded(tx: Tx): Promise<boolean> {
  return (await readMeta(tx, bootIdKey(tx.ctx.exec.backend, tx.ctx.host))) === tx.ctx.bootId;
}

/**
 * Runs refresh once when the host rebooted since the store last saw it, inside the
 * write transaction that records the new boot id; returns whether it ran. A second
 * process waits for the transaction, then finds the id recorded and does nothing.
 */
export async function refreshAfterReboot(tx: Tx): Promise<boolean> {
  const key = bootIdKey(tx.ctx.exec.backend, tx.ctx.host);
  const seen = await readMeta(tx, key);
  if (seen === tx.ctx.bootId) return false;
  if (seen !== undefined) await refresh(tx, 'reboot');
  await writeMeta(tx, key, tx.ctx.bootId);
  return seen !== undefined;
}

/**
 * The objects, workspaces and locks of the handle's namespace as of one snapshot, with
 * the event seq they were read at.
 */
export async function snapshot(tx: Tx): Promise<Snapshot> {
  const ns = { ns: tx.ns };
  const seq = await lastSeq(tx);
  const containers = (await tx.q.all(q.allContainers, ns)).map(toContainer);
  const pods = (await tx.q.all(q.allPods, ns)).map(toPod);
  const volumes = (await tx.q.all(q.allVolumes, ns)).map(toVolume);
  const locks = (await tx.q.all(allLocks, {})).map((row) => toLockInfo(tx, row));
  const workspaces = (await tx.q.all(listWorkspaceRows, ns)).map((w) => ({
    name: w.name,
    namespace: w.namespace,
    lineage: w.lineage,
    serial: w.serial,
    createdAt: new Date(w.created_at).toISOString(),
    updatedAt: new Date(w.updated_at).toISOString(),
  }));
  return { seq, containers, pods, volumes, workspaces, locks };
}

/**
 * The engine's part of a health report: the recorded boot id and the locks. What cannot
 * be read becomes a finding in `problems`, never a failure.
 */
export async function engineHealth(
  tx: Tx,
  problems: string[],
): Promise<Pick<DiagnosisReport, 'bootId' | 'locks' | 'staleLocks'>> {
  const attempt = async <T>(fn: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      problems.push((err as Error).message);
      return fallback;
    }
  };
  const recorded = await attempt(() => readMeta(tx, bootIdKey(tx.ctx.exec.backend, tx.ctx.host)), undefined);
  const locks = await attempt(async () => (await tx.q.all(allLocks, {})).map((row) => toLockInfo(tx, row)), []);
  return {
    bootId: { current: tx.ctx.bootId, recorded: recorded ?? null },
    locks: locks.length,
    staleLocks: locks.filter((l) => l.stale),
  };
}

/**
 * Fixes what can be fixed safely, in the caller's transaction: removes link rows whose
 * container, dependency or volume is gone, and stale locks (each with an event).
 */
export async function repair(tx: Tx): Promise<RepairReport> {
  const report: RepairReport = {
    dependencies: await tx.q.run(q.danglingDependencies, {}),
    containerVolumes: await tx.q.run(q.danglingContainerVolumes, {}),
    execSessions: await tx.q.run(q.danglingExecSessions, {}),
    staleLocks: [],
  };
  for (const row of await tx.q.all(allLocks, {})) {
    const reason = staleReason(tx, row, tx.now);
    if (reason === undefined) continue;
    report.staleLocks.push(row.id);
    await breakStaleLock(tx, row, reason, 'repair');
  }
  return report;
}

/**
 * Journals a restore (the whole content was just replaced): seqs never go back, so a
 * reader resuming from before it is told to resync.
 */
export async function recordRestore(tx: Tx, before: number, from: string): Promise<void> {
  await markPrunedThrough(tx, Math.max(before, await lastSeq(tx)));
  await appendEvent(tx, { namespace: '', type: 'store.restore', subject: { kind: 'store' }, data: { from } });
}

export type { Snapshot, DiagnosisReport, RepairReport };
