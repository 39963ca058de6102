import { BerthError } from '../../errors.js';
import type { Tx } from '../context.js';
import { appendEvent } from '../events/journal.js';
import { lookupPodRow } from '../rules/lookup.js';
import { assertArgumentNamespace, assertVisible } from '../rules/namespaces.js';
import type { Container, Pod, PodConfig } from '../types.js';
import { assertObjectName, assertPlainObject, toJson } from '../validate.js';
import {
  assertRemovable,
  deleteContainerRow,
  insertContainer,
  loadContainer,
  removeExecSessionsOf,
} from './containers.js';
import { managingWorkspace, objectId } from './input.js';
import { noSuchPod } from './not-found.js';
import * as q from './queries.js';
import type { PodRecord } from './queries.js';
import { assertIdAndNameFree, assertNameFree } from './registry.js';
import { toPod } from './rows.js';

/* Pods and their members (DESIGN.md §3). */

/** The id of a pod argument, checked against the handle's namespace. */
export function podArg(ns: string, pod: unknown): string {
  const id = objectId(pod, 'pod');
  assertArgumentNamespace(pod as Pod, ns, `pod ${id}`);
  return id;
}

/**
 * The stored pod with this full id, visible to the handle.
 * @throws NO_SUCH_POD, NAMESPACE_MISMATCH
 */
export async function loadPod(tx: Tx, id: string): Promise<PodRecord> {
  const row = await tx.q.get(q.getPod, { id });
  if (!row) throw noSuchPod(id);
  assertVisible(tx.ns, row.namespace, `pod ${row.name}`);
  return row;
}

/** Whether a pod with this full id exists in the handle's namespace. */
export async function hasPod(tx: Tx, id: string): Promise<boolean> {
  const row = await tx.q.get(q.getPod, { id });
  return row !== undefined && (tx.ns === '' || row.namespace === tx.ns);
}

/** Every pod the handle sees, oldest first. */
export async function allPods(tx: Tx): Promise<Pod[]> {
  return (await tx.q.all(q.allPods, { ns: tx.ns })).map(toPod);
}

/**
 * Adds a prepared pod.
 * @throws POD_EXISTS, CONTAINER_EXISTS
 */
export async function addPod(tx: Tx, pod: Pod): Promise<void> {
  const { config } = pod;
  await assertIdAndNameFree(tx, config.id, config.name);
  await tx.q.run(q.insertPod, {
    id: config.id,
    name: config.name,
    namespace: config.namespace!,
    workspace: managingWorkspace(config.labels),
    config: toJson(config, 'pod config'),
    state: toJson(pod.state, 'pod state'),
    now: tx.now,
  });
  await appendEvent(tx, {
    namespace: config.namespace!,
    type: 'pod.create',
    subject: { kind: 'pod', id: config.id, name: config.name },
  });
}

async function deletePodRow(tx: Tx, row: PodRecord): Promise<void> {
  await tx.q.run(q.deletePod, { id: row.id });
  await appendEvent(tx, {
    namespace: row.namespace,
    type: 'pod.remove',
    subject: { kind: 'pod', id: row.id, name: row.name },
  });
}

/**
 * Removes an empty pod.
 * @throws NO_SUCH_POD, NAMESPACE_MISMATCH, POD_NOT_EMPTY
 */
export async function removePod(tx: Tx, id: string): Promise<void> {
  const row = await loadPod(tx, id);
  const members = await tx.q.all(q.podContainerRows, { pod: id });
  if (members.length > 0) {
    throw new BerthError(
      'POD_NOT_EMPTY',
      `pod ${row.name} still has ${members.length} container(s); remove the pod with its containers (\`berth pod rm -f ${row.name}\`; in the library, force or removePodContainers first)`,
      { details: { id, containers: members.map((m) => m.id) } },
    );
  }
  await deletePodRow(tx, row);
}

/** Removes every member of a checked pod: all or none (with force, their exec sessions too). */
async function removeMembers(tx: Tx, row: PodRecord, force: boolean): Promise<void> {
  const members = await tx.q.all(q.podContainerRows, { pod: row.id });
  if (force) for (const member of members) await removeExecSessionsOf(tx, member);
  const ids = new Set(members.map((m) => m.id));
  for (const member of members) await assertRemovable(tx, member, ids);
  // Dependency rows between members go first, so no foreign key points at a removed row.
  for (const member of members) await tx.q.run(q.deleteContainerDependencies, { id: member.id });
  for (const member of members) await deleteContainerRow(tx, member);
}

/**
 * Removes every container of a pod: all or none.
 * @throws NO_SUCH_POD, NAMESPACE_MISMATCH, DEPENDENCY_EXISTS (a dependent outside the pod), EXEC_SESSION_EXISTS
 */
export async function removePodContainers(tx: Tx, id: string): Promise<void> {
  await removeMembers(tx, await loadPod(tx, id), false);
}

/**
 * Removes the pod `ref` resolves to (one item of `removePods`); with `force` its
 * containers (and their exec sessions) first, all in this one transaction.
 * @throws NO_SUCH_POD, AMBIGUOUS_ID, POD_NOT_EMPTY, DEPENDENCY_EXISTS, EXEC_SESSION_EXISTS
 */
export async function removePodByRef(tx: Tx, ref: string, force: boolean): Promise<Pod> {
  const row = await lookupPodRow(tx, ref);
  if (force) await removeMembers(tx, row, true);
  await removePod(tx, row.id);
  return toPod(row);
}

/**
 * Adds a prepared container to a pod.
 * @throws NO_SUCH_POD, NAMESPACE_MISMATCH, INVALID_ARGUMENT (another pod), and as insertContainer
 */
export async function addContainerToPod(tx: Tx, podId: string, ctr: Container): Promise<void> {
  const podRow = await loadPod(tx, podId);
  if (podRow.namespace !== ctr.config.namespace) {
    throw new BerthError(
      'NAMESPACE_MISMATCH',
      `container ${ctr.config.name} (namespace ${JSON.stringify(ctr.config.namespace)}) cannot join pod ${podRow.name} in namespace ${JSON.stringify(podRow.namespace)}`,
      { details: { namespace: ctr.config.namespace, podNamespace: podRow.namespace } },
    );
  }
  await insertContainer(tx, ctr);
}

/**
 * Removes a container from its pod (and from the store).
 * @throws NO_SUCH_POD (also when in no pod), NO_SUCH_CONTAINER, NAMESPACE_MISMATCH,
 *   INVALID_ARGUMENT (in another pod), DEPENDENCY_EXISTS, EXEC_SESSION_EXISTS
 */
export async function removeContainerFromPod(tx: Tx, podId: string, id: string): Promise<void> {
  const podRow = await loadPod(tx, podId);
  const row = await loadContainer(tx, id);
  if (row.pod_id === null) {
    throw new BerthError('NO_SUCH_POD', `container ${row.name} is not in any pod; remove it with removeContainer`, {
      details: { id, pod: podId },
    });
  }
  if (row.pod_id !== podId) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `container ${row.name} belongs to pod ${row.pod_id}, not to pod ${podRow.name}`,
      { details: { id, pod: podId, actualPod: row.pod_id } },
    );
  }
  await assertRemovable(tx, row, new Set());
  await deleteContainerRow(tx, row);
}

/**
 * Whether the container with id `ctrId` is a member of the pod.
 * @throws NO_SUCH_POD, NAMESPACE_MISMATCH
 */
export async function podHasContainer(tx: Tx, podId: string, ctrId: string): Promise<boolean> {
  await loadPod(tx, podId);
  const row = await tx.q.get(q.getContainer, { id: ctrId });
  return row !== undefined && row.pod_id === podId;
}

/**
 * The pod's containers, oldest first.
 * @throws NO_SUCH_POD, NAMESPACE_MISMATCH
 */
export async function podMembers(tx: Tx, podId: string): Promise<q.ContainerRecord[]> {
  await loadPod(tx, podId);
  return tx.q.all(q.podContainerRows, { pod: podId });
}

/**
 * Writes a pod's `state` (a checked JSON text).
 * @throws NO_SUCH_POD, NAMESPACE_MISMATCH
 */
export async function savePodState(tx: Tx, id: string, state: string): Promise<void> {
  const row = await loadPod(tx, id);
  await tx.q.run(q.updatePodState, { id, state, now: tx.now });
  await appendEvent(tx, { namespace: row.namespace, type: 'pod.update', subject: { kind: 'pod', id, name: row.name } });
}

/**
 * Checks a new pod config before any transaction.
 * @throws INVALID_ARGUMENT, EMPTY_ID, INVALID_NAME
 */
export function checkNewPodConfig(id: string, newConfig: PodConfig): void {
  assertPlainObject(newConfig, 'pod config');
  if (newConfig.id !== id) {
    throw new BerthError('INVALID_ARGUMENT', `a pod's id cannot change (${id} -> ${String(newConfig.id)})`, {
      details: { id, newId: newConfig.id },
    });
  }
  assertObjectName(newConfig.name, 'pod');
}

/**
 * Replaces a pod's config; the id and namespace stay, the name may change.
 * @throws NO_SUCH_POD, NAMESPACE_MISMATCH, INVALID_ARGUMENT, POD_EXISTS, CONTAINER_EXISTS
 */
export async function rewritePod(tx: Tx, id: string, newConfig: PodConfig): Promise<void> {
  const row = await loadPod(tx, id);
  const config: PodConfig = { ...newConfig, namespace: newConfig.namespace ?? row.namespace };
  if (config.namespace !== row.namespace) {
    throw new BerthError('INVALID_ARGUMENT', `pod ${row.name} cannot move to another namespace`, {
      details: { namespace: row.namespace, newNamespace: config.namespace },
    });
  }
  const renamed = config.name !== row.name;
  if (renamed) await assertNameFree(tx, config.name, id);
  await tx.q.run(q.updatePodConfig, {
    id,
    name: config.name,
    workspace: managingWorkspace(config.labels),
    config: toJson(config, 'pod config'),
    now: tx.now,
  });
  await appendEvent(tx, {
    namespace: row.namespace,
    type: renamed ? 'pod.rename' : 'pod.update',
    subject: { kind: 'pod', id, name: config.name },
    data: renamed ? { oldName: row.name, newName: config.name } : {},
  });
}
