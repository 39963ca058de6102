import { BerthError } from '../../errors.js';
import type { Tx } from '../context.js';
import { appendEvent } from '../events/journal.js';
import { lookupVolumeRow } from '../rules/lookup.js';
import { assertArgumentNamespace, assertVisible } from '../rules/namespaces.js';
import type { Volume, VolumeConfig } from '../types.js';
import { assertPlainObject, toJson } from '../validate.js';
import { managingWorkspace, volumeName } from './input.js';
import { noSuchVolume } from './not-found.js';
import * as q from './queries.js';
import type { VolumeRecord } from './queries.js';
import { toVolume } from './rows.js';

/* Volumes (DESIGN.md §3): names unique among volumes, never removed while in use. */

/** The name of a volume argument, checked against the handle's namespace. */
export function volumeArg(ns: string, vol: unknown): string {
  const name = volumeName(vol);
  assertArgumentNamespace(vol as Volume, ns, `volume ${name}`);
  return name;
}

/**
 * The stored volume with this exact name, visible to the handle.
 * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH
 */
export async function loadVolume(tx: Tx, name: string): Promise<VolumeRecord> {
  const row = await tx.q.get(q.getVolume, { name });
  if (!row) throw noSuchVolume(name);
  assertVisible(tx.ns, row.namespace, `volume ${name}`);
  return row;
}

/** Whether a volume with this name exists in the handle's namespace. */
export async function hasVolume(tx: Tx, name: string): Promise<boolean> {
  const row = await tx.q.get(q.getVolume, { name });
  return row !== undefined && (tx.ns === '' || row.namespace === tx.ns);
}

/** Every volume the handle sees, oldest first. */
export async function allVolumes(tx: Tx): Promise<Volume[]> {
  return (await tx.q.all(q.allVolumes, { ns: tx.ns })).map(toVolume);
}

/**
 * Ids of the containers that use the volume.
 * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH
 */
export async function volumeUsers(tx: Tx, name: string): Promise<string[]> {
  await loadVolume(tx, name);
  return (await tx.q.all(q.volumeUsers, { volume: name })).map((r) => r.container_id);
}

/**
 * Adds a prepared volume.
 * @throws VOLUME_EXISTS
 */
export async function addVolume(tx: Tx, vol: Volume): Promise<void> {
  const { config } = vol;
  if (await tx.q.get(q.getVolume, { name: config.name })) {
    throw new BerthError('VOLUME_EXISTS', `a volume named ${config.name} already exists; choose another name`, {
      details: { name: config.name },
    });
  }
  await tx.q.run(q.insertVolume, {
    name: config.name,
    namespace: config.namespace!,
    workspace: managingWorkspace(config.labels),
    config: toJson(config, 'volume config'),
    state: toJson(vol.state, 'volume state'),
    now: tx.now,
  });
  await appendEvent(tx, {
    namespace: config.namespace!,
    type: 'volume.create',
    subject: { kind: 'volume', name: config.name },
  });
}

/**
 * Removes a volume no container uses.
 * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH, VOLUME_IN_USE
 */
export async function removeVolume(tx: Tx, name: string): Promise<void> {
  const row = await loadVolume(tx, name);
  const users = (await tx.q.all(q.volumeUsers, { volume: name })).map((r) => r.container_id);
  if (users.length > 0) {
    throw new BerthError(
      'VOLUME_IN_USE',
      `volume ${name} is used by container(s) ${users.join(', ')}; remove them first`,
      { details: { name, containers: users } },
    );
  }
  await tx.q.run(q.deleteVolume, { name });
  await appendEvent(tx, { namespace: row.namespace, type: 'volume.remove', subject: { kind: 'volume', name } });
}

/**
 * Removes the volume `ref` resolves to (one item of `removeVolumes`).
 * @throws NO_SUCH_VOLUME, AMBIGUOUS_ID, VOLUME_IN_USE
 */
export async function removeVolumeByRef(tx: Tx, ref: string): Promise<Volume> {
  const row = await lookupVolumeRow(tx, ref);
  await removeVolume(tx, row.name);
  return toVolume(row);
}

/**
 * Writes a volume's `state` (a checked JSON text).
 * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH
 */
export async function saveVolumeState(tx: Tx, name: string, state: string): Promise<void> {
  const row = await loadVolume(tx, name);
  await tx.q.run(q.updateVolumeState, { name, state, now: tx.now });
  await appendEvent(tx, { namespace: row.namespace, type: 'volume.update', subject: { kind: 'volume', name } });
}

/**
 * Checks a new volume config before any transaction.
 * @throws INVALID_ARGUMENT
 */
export function checkNewVolumeConfig(name: string, newConfig: VolumeConfig): void {
  assertPlainObject(newConfig, 'volume config');
  if (newConfig.name !== name) {
    throw new BerthError('INVALID_ARGUMENT', `a volume's name cannot change (${name} -> ${String(newConfig.name)})`, {
      details: { name, newName: newConfig.name },
    });
  }
}

/**
 * Replaces a volume's config; its name and namespace stay.
 * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH, INVALID_ARGUMENT
 */
export async function rewriteVolume(tx: Tx, name: string, newConfig: VolumeConfig): Promise<void> {
  const row = await loadVolume(tx, name);
  const config: VolumeConfig = { ...newConfig, namespace: newConfig.namespace ?? row.namespace };
  if (config.namespace !== row.namespace) {
    throw new BerthError('INVALID_ARGUMENT', `volume ${name} cannot move to another namespace`, {
      details: { namespace: row.namespace, newNamespace: config.namespace },
    });
  }
  await tx.q.run(q.updateVolumeConfig, {
    name,
    workspace: managingWorkspace(config.labels),
    config: toJson(config, 'volume config'),
    now: tx.now,
  });
  await appendEvent(tx, { namespace: row.namespace, type: 'volume.update', subject: { kind: 'volume', name } });
}
