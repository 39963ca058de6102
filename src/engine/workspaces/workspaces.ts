import { randomUUID } from 'node:crypto';
import type { LockRow, WorkspaceHead, WorkspaceRow } from '../../db/schema.js';
import { BerthError } from '../../errors.js';
import type { Tx } from '../context.js';
import { appendEvent } from '../events/journal.js';
import { assertHolds } from '../locks/fencing.js';
import type { LockInfo } from '../locks/lock-info.js';
import { toLockInfo } from '../locks/lock-info.js';
import { acquire, lockedError, type AcquireOptions } from '../locks/locks.js';
import { getLock } from '../locks/queries.js';
import { assertNonEmpty } from '../validate.js';
import * as q from './queries.js';
import { retireSecretKeys } from '../secrets/queries.js';
import type { WorkspaceInfo } from '../types.js';

/*
 * Workspaces (DESIGN.md §4): named stack states per namespace, each namespace with a
 * `default` that always exists; creation, listing, deletion and the workspace lock.
 * Their state documents live in state.ts.
 */

/** The workspace every namespace has, which cannot be deleted. */
export const DEFAULT_WORKSPACE = 'default';

/** Workspace names (DESIGN.md §4). */
export const WORKSPACE_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;

/** The lock key of a workspace. */
export function workspaceLockKey(namespace: string, name: string): string {
  return `workspace:${namespace}/${name}`;
}

/**
 * Throws unless `name` is a valid workspace name.
 * @throws EMPTY_ID, INVALID_NAME
 */
export function assertWorkspaceName(name: unknown): asserts name is string {
  assertNonEmpty(name, 'workspace name');
  if (!WORKSPACE_NAME_PATTERN.test(name) || name === '.' || name === '..') {
    throw new BerthError(
      'INVALID_NAME',
      `workspace name ${JSON.stringify(name)} is invalid: use 1 to 100 letters, digits, '_', '.' or '-' (not "." or "..")`,
      { details: { name, pattern: WORKSPACE_NAME_PATTERN.source } },
    );
  }
}

/** True when a stored state document counts as empty. */
export function isEmptyState(stateJson: string | null): boolean {
  return stateJson === null || stateJson === '{}' || stateJson === 'null';
}

/** Creates workspace `name` in the transaction's namespace (fresh lineage, serial 0). */
export async function insertWorkspace(tx: Tx, name: string): Promise<WorkspaceRow> {
  const lineage = randomUUID();
  await tx.q.run(q.insertWorkspace, { ns: tx.ns, name, lineage, now: tx.now });
  await appendEvent(tx, { namespace: tx.ns, type: 'workspace.create', subject: { kind: 'workspace', name } });
  return {
    namespace: tx.ns,
    name,
    lineage,
    serial: 0,
    state_json: null,
    checksum: null,
    created_at: tx.now,
    updated_at: tx.now,
  };
}

/** The workspace row, creating it when `create` (for the default workspace, or a first lock or write). */
export async function ensureWorkspace(tx: Tx, name: string): Promise<WorkspaceRow> {
  return (await tx.q.get(q.getWorkspace, { ns: tx.ns, name })) ?? insertWorkspace(tx, name);
}

/** Whether workspace `name` exists in the transaction's namespace. */
export async function hasWorkspace(tx: Tx, name: string): Promise<boolean> {
  return (await tx.q.get(q.workspaceExists, { ns: tx.ns, name })) !== undefined;
}

/** The default workspace as a read-only handle sees it before anyone used it. */
function neverCreatedDefault(tx: Tx): WorkspaceRow {
  return {
    namespace: tx.ns,
    name: DEFAULT_WORKSPACE,
    lineage: '',
    serial: 0,
    state_json: null,
    checksum: null,
    created_at: tx.now,
    updated_at: tx.now,
  };
}

/**
 * The workspace row; `missingHint` says what to do when it does not exist.
 * @throws NO_SUCH_WORKSPACE
 */
export async function loadWorkspace(tx: Tx, name: string, missingHint?: string): Promise<WorkspaceRow> {
  const row = await tx.q.get(q.getWorkspace, { ns: tx.ns, name });
  if (row) return row;
  if (name === DEFAULT_WORKSPACE && tx.ctx.readonly) return neverCreatedDefault(tx);
  throw noSuchWorkspace(tx, name, missingHint);
}

/**
 * The workspace row without its state document, which a lock or a write does not need
 * (a Terraform state may be megabytes).
 * @throws NO_SUCH_WORKSPACE
 */
export async function loadWorkspaceHead(tx: Tx, name: string, missingHint?: string): Promise<WorkspaceHead> {
  const row = await tx.q.get(q.getWorkspaceHead, { ns: tx.ns, name });
  if (row) return row;
  if (name === DEFAULT_WORKSPACE && tx.ctx.readonly) return neverCreatedDefault(tx);
  throw noSuchWorkspace(tx, name, missingHint);
}

function noSuchWorkspace(tx: Tx, name: string, missingHint: string | undefined): BerthError {
  return new BerthError(
    'NO_SUCH_WORKSPACE',
    `workspace ${name} does not exist in namespace ${JSON.stringify(tx.ns)}; ${missingHint ?? `create it with \`berth workspace new ${name}\``}`,
    { details: { name, namespace: tx.ns } },
  );
}

async function workspaceInfo(tx: Tx, row: WorkspaceRow): Promise<WorkspaceInfo> {
  const counts = await tx.q.get(q.countManaged, { ns: row.namespace, name: row.name });
  const managed = {
    containers: Number(counts?.containers ?? 0),
    pods: Number(counts?.pods ?? 0),
    volumes: Number(counts?.volumes ?? 0),
  };
  const lock = await tx.q.get(getLock, { key: workspaceLockKey(row.namespace, row.name) });
  const info: WorkspaceInfo = {
    name: row.name,
    namespace: row.namespace,
    lineage: row.lineage,
    serial: row.serial,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    isEmpty: isEmptyState(row.state_json) && managed.containers + managed.pods + managed.volumes === 0,
    managed,
  };
  if (lock) info.lock = toLockInfo(tx, lock);
  return info;
}

/** Every workspace of the namespace, `default` included, by name. */
export async function listWorkspaces(tx: Tx): Promise<WorkspaceInfo[]> {
  const rows = await tx.q.all(q.listWorkspaces, { ns: tx.ns });
  if (!rows.some((r) => r.name === DEFAULT_WORKSPACE)) rows.unshift(neverCreatedDefault(tx));
  const out: WorkspaceInfo[] = [];
  for (const row of rows) out.push(await workspaceInfo(tx, row));
  return out;
}

/**
 * Creates a workspace with a fresh lineage and serial 0.
 * @throws WORKSPACE_EXISTS
 */
export async function createWorkspace(tx: Tx, name: string): Promise<WorkspaceInfo> {
  if (await hasWorkspace(tx, name)) {
    throw new BerthError(
      'WORKSPACE_EXISTS',
      `workspace ${name} already exists in namespace ${JSON.stringify(tx.ns)}; select it with \`berth workspace select ${name}\``,
      { details: { name, namespace: tx.ns } },
    );
  }
  return workspaceInfo(tx, await insertWorkspace(tx, name));
}

/**
 * One workspace.
 * @throws NO_SUCH_WORKSPACE
 */
export async function getWorkspaceInfo(tx: Tx, name: string): Promise<WorkspaceInfo> {
  return workspaceInfo(tx, await loadWorkspace(tx, name));
}

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

/**
 * Deletes a workspace with its history and lock. Refuses `default`, a locked workspace
 * (even with force), and a non-empty one without `force`.
 * @throws DEFAULT_WORKSPACE, NO_SUCH_WORKSPACE, LOCKED, WORKSPACE_NOT_EMPTY
 */
export async function deleteWorkspace(tx: Tx, name: string, force: boolean): Promise<void> {
  if (name === DEFAULT_WORKSPACE) {
    throw new BerthError('DEFAULT_WORKSPACE', 'the default workspace cannot be deleted', { details: { name } });
  }
  const row = await loadWorkspace(tx, name, 'nothing to delete; list the workspaces with `berth workspace list`');
  const held = await tx.q.get(getLock, { key: workspaceLockKey(tx.ns, name) });
  if (held) throw lockedError(tx, held, `workspace ${name}`);
  const info = await workspaceInfo(tx, row);
  if (!info.isEmpty && !force) {
    const m = info.managed;
    const what = [
      ...(isEmptyState(row.state_json) ? [] : [`its state is at serial ${row.serial}`]),
      ...(m.containers + m.pods + m.volumes > 0
        ? [
            `it manages ${[
              m.containers ? plural(m.containers, 'container') : '',
              m.pods ? plural(m.pods, 'pod') : '',
              m.volumes ? plural(m.volumes, 'volume') : '',
            ]
              .filter(Boolean)
              .join(', ')}`,
          ]
        : []),
    ].join(' and ');
    throw new BerthError(
      'WORKSPACE_NOT_EMPTY',
      `workspace ${name} is not empty: ${what}; destroy its objects first (\`berth destroy\` with it selected), or delete it anyway with \`berth workspace delete --force ${name}\` (its objects stay, as orphans)`,
      { details: { name, serial: row.serial, managed: m } },
    );
  }
  await tx.q.run(q.deleteStateVersions, { ns: tx.ns, name });
  await tx.q.run(q.deleteWorkspace, { ns: tx.ns, name });
  // A workspace created later under this name gets a data key of its own.
  await tx.q.run(retireSecretKeys, { ns: tx.ns, name, now: tx.now });
  await appendEvent(tx, {
    namespace: tx.ns,
    type: 'workspace.delete',
    subject: { kind: 'workspace', name },
    data: { lineage: row.lineage, serial: row.serial, force },
  });
}

/**
 * Checks the workspace lock before a state write: with `lockId` it must still hold the
 * lock (fencing); without one, nobody else may hold it. Returns the lock `lockId` holds.
 * @throws LOCK_LOST, LOCKED
 */
export async function assertWritable(tx: Tx, name: string, lockId: string | undefined): Promise<LockRow | undefined> {
  const key = workspaceLockKey(tx.ns, name);
  if (lockId !== undefined) return assertHolds(tx, key, lockId);
  const held = await tx.q.get(getLock, { key });
  if (held) throw lockedError(tx, held, `workspace ${name}`);
  return undefined;
}

/**
 * Locks a workspace (Terraform's state lock); `create` makes a missing workspace first
 * (Terraform's http backend creates one on its first lock).
 * @throws NO_SUCH_WORKSPACE, LOCKED
 */
export async function lockWorkspace(tx: Tx, name: string, opts: AcquireOptions, create = false): Promise<LockInfo> {
  if (create) await ensureWorkspace(tx, name);
  else await loadWorkspaceHead(tx, name);
  return acquire(tx, workspaceLockKey(tx.ns, name), opts, `workspace ${name}`);
}

/** The objects a workspace manages (its `berth.workspace` label), in the namespaces the handle sees. */
export async function managedObjects(
  tx: Tx,
  name: string,
): Promise<{
  containers: { config_json: string; state_json: string }[];
  pods: { config_json: string; state_json: string }[];
  volumes: { config_json: string; state_json: string }[];
}> {
  const key = { ns: tx.ns, name };
  return {
    containers: await tx.q.all(q.managedContainers, key),
    pods: await tx.q.all(q.managedPods, key),
    volumes: await tx.q.all(q.managedVolumes, key),
  };
}

export type { WorkspaceInfo };
