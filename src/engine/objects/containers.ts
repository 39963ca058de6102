import { BerthError } from '../../errors.js';
import type { Tx } from '../context.js';
import { appendEvent } from '../events/journal.js';
import { lookupContainerRow } from '../rules/lookup.js';
import { assertArgumentNamespace, assertVisible } from '../rules/namespaces.js';
import type { Container, ContainerConfig } from '../types.js';
import { assertObjectName, assertPlainObject, toJson } from '../validate.js';
import { checkContainerConfig, managingWorkspace, namedVolumeNames, objectId } from './input.js';
import { noSuchContainer } from './not-found.js';
import * as q from './queries.js';
import type { ContainerRecord } from './queries.js';
import { assertIdAndNameFree, assertNameFree } from './registry.js';
import { parseStored, toContainer } from './rows.js';

/*
 * Containers (DESIGN.md §3): adding with its dependency and volume rules, removing,
 * state saves and config rewrites. Pod membership lives in pods.ts, exec sessions,
 * networks and exit codes in runtime.ts.
 */

/** The id of a container argument, checked against the handle's namespace. */
export function containerArg(ns: string, ctr: unknown): string {
  const id = objectId(ctr, 'container');
  assertArgumentNamespace(ctr as Container, ns, `container ${id}`);
  return id;
}

/**
 * The stored container with this full id, visible to the handle.
 * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
 */
export async function loadContainer(tx: Tx, id: string): Promise<ContainerRecord> {
  const row = await tx.q.get(q.getContainer, { id });
  if (!row) throw noSuchContainer(id);
  assertVisible(tx.ns, row.namespace, `container ${row.name}`);
  return row;
}

/** Whether a container with this full id exists in the handle's namespace. */
export async function hasContainer(tx: Tx, id: string): Promise<boolean> {
  const row = await tx.q.get(q.getContainer, { id });
  return row !== undefined && (tx.ns === '' || row.namespace === tx.ns);
}

/** Every container the handle sees, oldest first. */
export async function allContainers(tx: Tx): Promise<Container[]> {
  return (await tx.q.all(q.allContainers, { ns: tx.ns })).map(toContainer);
}

/** Dependencies exist, are visible, share the namespace and the pod (or both have none). */
async function checkDependencies(tx: Tx, config: ContainerConfig, namespace: string): Promise<void> {
  const pod = config.pod ?? null;
  for (const dep of config.dependencies ?? []) {
    const row = await tx.q.get(q.getContainer, { id: dep });
    if (!row) {
      throw new BerthError(
        'NO_SUCH_CONTAINER',
        `container ${config.name} depends on container ${dep}, which does not exist; add it first`,
        { details: { id: dep } },
      );
    }
    if (row.namespace !== namespace) {
      throw new BerthError(
        'NAMESPACE_MISMATCH',
        `container ${config.name} (namespace ${JSON.stringify(namespace)}) cannot depend on ${row.name} in namespace ${JSON.stringify(row.namespace)}`,
        { details: { id: dep, namespace: row.namespace } },
      );
    }
    if (row.pod_id !== pod) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `container ${config.name} cannot depend on ${row.name}: a dependency must be in the same pod, or both in none`,
        { details: { id: dep, pod: row.pod_id, containerPod: pod } },
      );
    }
  }
}

/** The named volumes a container mounts exist and share its namespace. */
async function checkNamedVolumes(tx: Tx, config: ContainerConfig, namespace: string): Promise<void> {
  for (const name of namedVolumeNames(config)) {
    const row = await tx.q.get(q.getVolume, { name });
    if (!row) {
      throw new BerthError(
        'NO_SUCH_VOLUME',
        `container ${config.name} uses volume ${name}, which does not exist; create it first (\`berth volume create ${name}\`)`,
        { details: { name } },
      );
    }
    if (row.namespace !== namespace) {
      throw new BerthError(
        'NAMESPACE_MISMATCH',
        `container ${config.name} (namespace ${JSON.stringify(namespace)}) cannot use volume ${name} in namespace ${JSON.stringify(row.namespace)}`,
        { details: { name, namespace: row.namespace } },
      );
    }
  }
}

/**
 * Inserts a prepared container after every check (pod membership is the caller's).
 * @throws CONTAINER_EXISTS, POD_EXISTS, NO_SUCH_CONTAINER, NO_SUCH_VOLUME, NAMESPACE_MISMATCH, INVALID_ARGUMENT
 */
export async function insertContainer(tx: Tx, ctr: Container): Promise<void> {
  const { config } = ctr;
  const namespace = config.namespace!;
  await assertIdAndNameFree(tx, config.id, config.name);
  await checkDependencies(tx, config, namespace);
  await checkNamedVolumes(tx, config, namespace);
  await tx.q.run(q.insertContainer, {
    id: config.id,
    name: config.name,
    namespace,
    pod: config.pod ?? null,
    workspace: managingWorkspace(config.labels),
    config: toJson(config, 'container config'),
    state: toJson(ctr.state, 'container state'),
    now: tx.now,
  });
  for (const dep of config.dependencies ?? []) await tx.q.run(q.insertDependency, { id: config.id, dep });
  for (const volume of namedVolumeNames(config)) await tx.q.run(q.insertContainerVolume, { id: config.id, volume });
  await appendEvent(tx, {
    namespace,
    type: 'container.create',
    subject: { kind: 'container', id: config.id, name: config.name },
    data: config.pod ? { pod: config.pod } : {},
  });
}

/**
 * Adds a container that is in no pod.
 * @throws INVALID_ARGUMENT (a pod member), and as insertContainer
 */
export async function addContainer(tx: Tx, ctr: Container): Promise<void> {
  if (ctr.config.pod !== undefined) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `container ${ctr.config.name} belongs to pod ${ctr.config.pod}; add it with addContainerToPod`,
      { details: { pod: ctr.config.pod } },
    );
  }
  await insertContainer(tx, ctr);
}

/**
 * Refuses to remove a container others depend on (but those in `alsoRemoved`) or with exec sessions.
 * @throws DEPENDENCY_EXISTS, EXEC_SESSION_EXISTS
 */
export async function assertRemovable(tx: Tx, row: ContainerRecord, alsoRemoved: ReadonlySet<string>): Promise<void> {
  const dependents = (await tx.q.all(q.dependents, { id: row.id }))
    .map((r) => r.container_id)
    .filter((id) => !alsoRemoved.has(id));
  if (dependents.length > 0) {
    throw new BerthError(
      'DEPENDENCY_EXISTS',
      `container ${row.name} has dependent containers which must be removed first: ${dependents.join(', ')}`,
      { details: { id: row.id, dependents } },
    );
  }
  const sessions = (await tx.q.all(q.containerExecSessions, { container: row.id })).map((r) => r.id);
  if (sessions.length > 0) {
    throw new BerthError(
      'EXEC_SESSION_EXISTS',
      `container ${row.name} has active exec sessions: ${sessions.join(', ')}; remove the container with them (\`berth rm -f ${row.name}\`; in the library, force or removeContainerExecSessions first)`,
      { details: { id: row.id, sessions } },
    );
  }
}

/** Deletes a checked container and journals it. */
export async function deleteContainerRow(tx: Tx, row: ContainerRecord): Promise<void> {
  await tx.q.run(q.deleteContainer, { id: row.id });
  await appendEvent(tx, {
    namespace: row.namespace,
    type: 'container.remove',
    subject: { kind: 'container', id: row.id, name: row.name },
    data: row.pod_id ? { pod: row.pod_id } : {},
  });
}

/**
 * Removes a container that is not in a pod.
 * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH, INVALID_ARGUMENT (pod member), DEPENDENCY_EXISTS, EXEC_SESSION_EXISTS
 */
export async function removeContainer(tx: Tx, id: string): Promise<void> {
  const row = await loadContainer(tx, id);
  if (row.pod_id !== null) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `container ${row.name} is in pod ${row.pod_id}; remove it with removeContainerFromPod`,
      { details: { id, pod: row.pod_id } },
    );
  }
  await assertRemovable(tx, row, new Set());
  await deleteContainerRow(tx, row);
}

/** Statuses a container cannot be removed in without force (podman's rule). */
const ACTIVE = new Set(['running', 'paused']);

/**
 * Removes the container `ref` resolves to, whatever pod it is in (one item of
 * `removeContainers`). Without `force` an active container is refused; with it, its exec
 * sessions go too.
 * @throws NO_SUCH_CONTAINER, AMBIGUOUS_ID, INVALID_ARGUMENT (active), DEPENDENCY_EXISTS, EXEC_SESSION_EXISTS
 */
export async function removeContainerByRef(tx: Tx, ref: string, force: boolean): Promise<Container> {
  const row = await lookupContainerRow(tx, ref);
  const ctr = toContainer(row);
  const status = String(ctr.state.status);
  if (!force && ACTIVE.has(status)) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `container ${row.name} is ${status}; stop it first, or remove it with force (\`berth rm -f ${row.name}\`)`,
      { details: { id: row.id, status } },
    );
  }
  if (force) await removeExecSessionsOf(tx, row);
  await assertRemovable(tx, row, new Set());
  await deleteContainerRow(tx, row);
  return ctr;
}

/** Removes every exec session record of a container, journaling each. */
export async function removeExecSessionsOf(tx: Tx, row: ContainerRecord): Promise<void> {
  const sessions = (await tx.q.all(q.containerExecSessions, { container: row.id })).map((r) => r.id);
  if (sessions.length === 0) return;
  await tx.q.run(q.deleteContainerExecSessions, { container: row.id });
  for (const session of sessions) {
    await appendEvent(tx, {
      namespace: row.namespace,
      type: 'exec.remove',
      subject: { kind: 'exec', id: session },
      data: { container: row.id },
    });
  }
}

/**
 * Writes a container's `state` (a checked JSON text).
 * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
 */
export async function saveContainerState(tx: Tx, id: string, state: string, status: unknown): Promise<void> {
  const row = await loadContainer(tx, id);
  await tx.q.run(q.updateContainerState, { id, state, now: tx.now });
  await appendEvent(tx, {
    namespace: row.namespace,
    type: 'container.update',
    subject: { kind: 'container', id, name: row.name },
    data: { status },
  });
}

/**
 * Ids of the containers that depend on this one.
 * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
 */
export async function containerInUse(tx: Tx, id: string): Promise<string[]> {
  await loadContainer(tx, id);
  return (await tx.q.all(q.dependents, { id })).map((r) => r.container_id);
}

/**
 * Checks a new config before any transaction: same id, a valid name and fields.
 * @throws INVALID_ARGUMENT, EMPTY_ID, INVALID_NAME
 */
export function checkNewContainerConfig(id: string, newConfig: ContainerConfig): void {
  assertPlainObject(newConfig, 'container config');
  if (newConfig.id !== id) {
    throw new BerthError('INVALID_ARGUMENT', `a container's id cannot change (${id} -> ${String(newConfig.id)})`, {
      details: { id, newId: newConfig.id },
    });
  }
  assertObjectName(newConfig.name, 'container');
  checkContainerConfig(newConfig);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

/**
 * Replaces a container's config. The id, pod, dependencies and namespace stay. `rename`:
 * 'any' lets the name change, 'keep' refuses a new name, `{ oldName }` renames only from
 * that name.
 * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH, INVALID_ARGUMENT, CONTAINER_EXISTS, POD_EXISTS, NO_SUCH_VOLUME
 */
export async function rewriteContainer(
  tx: Tx,
  id: string,
  newConfig: ContainerConfig,
  rename: { oldName: string } | 'keep' | 'any',
): Promise<void> {
  const row = await loadContainer(tx, id);
  const old = parseStored<ContainerConfig>(row.config_json, 'container config');
  const config: ContainerConfig = { ...newConfig, namespace: newConfig.namespace ?? row.namespace };
  if (config.namespace !== row.namespace) {
    throw new BerthError('INVALID_ARGUMENT', `container ${row.name} cannot move to another namespace`, {
      details: { namespace: row.namespace, newNamespace: config.namespace },
    });
  }
  if ((config.pod ?? null) !== row.pod_id) {
    throw new BerthError('INVALID_ARGUMENT', `container ${row.name} cannot change pod in a rewrite`, {
      details: { pod: row.pod_id, newPod: config.pod ?? null },
    });
  }
  if (!sameSet(old.dependencies ?? [], config.dependencies ?? [])) {
    throw new BerthError('INVALID_ARGUMENT', `container ${row.name} cannot change its dependencies in a rewrite`, {
      details: { dependencies: old.dependencies ?? [], newDependencies: config.dependencies ?? [] },
    });
  }
  if (typeof rename === 'object' && rename.oldName !== row.name) {
    throw new BerthError('INVALID_ARGUMENT', `container ${id} is named ${row.name}, not ${rename.oldName}`, {
      details: { name: row.name, oldName: rename.oldName },
    });
  }
  if (rename === 'keep' && config.name !== row.name) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `container ${row.name} is not being renamed, so its config must keep the name ${row.name}`,
      { details: { name: row.name, configName: config.name } },
    );
  }
  const renamed = config.name !== row.name;
  if (renamed) await assertNameFree(tx, config.name, id);
  const volumesBefore = namedVolumeNames(old);
  const volumesAfter = namedVolumeNames(config);
  const volumesChanged = !sameSet(volumesBefore, volumesAfter);
  if (volumesChanged) await checkNamedVolumes(tx, config, row.namespace);
  // Every check is done: only writes from here on.
  if (volumesChanged) {
    await tx.q.run(q.deleteContainerVolumes, { id });
    for (const volume of volumesAfter) await tx.q.run(q.insertContainerVolume, { id, volume });
  }
  await tx.q.run(q.updateContainerConfig, {
    id,
    name: config.name,
    workspace: managingWorkspace(config.labels),
    config: toJson(config, 'container config'),
    now: tx.now,
  });
  await appendEvent(tx, {
    namespace: row.namespace,
    type: renamed ? 'container.rename' : 'container.update',
    subject: { kind: 'container', id, name: config.name },
    data: renamed ? { oldName: row.name, newName: config.name } : {},
  });
}

/** Writes a container's config as it is (networks changed by runtime.ts), journaling `type`. */
export async function writeContainerConfig(
  tx: Tx,
  row: ContainerRecord,
  config: ContainerConfig,
  type: string,
  data: Record<string, unknown>,
): Promise<void> {
  await tx.q.run(q.updateContainerConfig, {
    id: row.id,
    name: row.name,
    workspace: managingWorkspace(config.labels),
    config: JSON.stringify(config),
    now: tx.now,
  });
  await appendEvent(tx, {
    namespace: row.namespace,
    type,
    subject: { kind: 'container', id: row.id, name: row.name },
    data,
  });
}
