import { BerthError } from '../../errors.js';
import type { Tx } from '../context.js';
import { appendEvent } from '../events/journal.js';
import { breakPreRebootLocks } from '../locks/staleness.js';
import { readMeta, writeMeta } from '../meta.js';
import { DB_CONFIG_FIELDS, type ContainerConfig, type DBConfig, type NetworkOptions } from '../types.js';
import { loadContainer, writeContainerConfig } from './containers.js';
import { noSuchExecSession } from './not-found.js';
import * as q from './queries.js';
import { parseStored } from './rows.js';

/*
 * A container's runtime records (libpod's State): exec sessions, network attachments,
 * exit codes; the runtime's recorded paths (DBConfig); and the refresh after a reboot.
 */

/** Exit codes of removed containers are kept this long (libpod's rule). */
const EXIT_CODE_RETENTION_MS = 5 * 60 * 1000;

// ---------------------------------------------------------------- exec sessions

/**
 * Records an exec session of a container.
 * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH, EXEC_SESSION_EXISTS
 */
export async function addExecSession(tx: Tx, containerId: string, sessionId: string): Promise<void> {
  const row = await loadContainer(tx, containerId);
  if (await tx.q.get(q.getExecSession, { id: sessionId })) {
    throw new BerthError('EXEC_SESSION_EXISTS', `exec session ${sessionId} already exists; use another id`, {
      details: { session: sessionId },
    });
  }
  await tx.q.run(q.insertExecSession, { id: sessionId, container: containerId });
  await appendEvent(tx, {
    namespace: row.namespace,
    type: 'exec.create',
    subject: { kind: 'exec', id: sessionId },
    data: { container: containerId },
  });
}

/**
 * The id of the container an exec session runs in.
 * @throws NO_SUCH_EXEC_SESSION
 */
export async function execSessionContainer(tx: Tx, sessionId: string): Promise<string> {
  const row = await tx.q.get(q.getExecSession, { id: sessionId });
  if (!row) throw noSuchExecSession(sessionId);
  return row.container_id;
}

/**
 * Removes the record of one exec session.
 * @throws NO_SUCH_EXEC_SESSION, NAMESPACE_MISMATCH
 */
export async function removeExecSession(tx: Tx, sessionId: string): Promise<void> {
  const row = await tx.q.get(q.getExecSession, { id: sessionId });
  if (!row) throw noSuchExecSession(sessionId);
  const ctr = await tx.q.get(q.getContainer, { id: row.container_id });
  if (ctr && tx.ns !== '' && ctr.namespace !== tx.ns) await loadContainer(tx, ctr.id);
  await tx.q.run(q.deleteExecSession, { id: sessionId });
  await appendEvent(tx, {
    namespace: ctr?.namespace ?? '',
    type: 'exec.remove',
    subject: { kind: 'exec', id: sessionId },
    data: { container: row.container_id },
  });
}

/**
 * Ids of a container's exec sessions.
 * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
 */
export async function containerExecSessions(tx: Tx, containerId: string): Promise<string[]> {
  await loadContainer(tx, containerId);
  return (await tx.q.all(q.containerExecSessions, { container: containerId })).map((r) => r.id);
}

// ---------------------------------------------------------------- networks

/**
 * The networks a container is connected to, with their options.
 * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
 */
export async function getNetworks(tx: Tx, containerId: string): Promise<Record<string, NetworkOptions>> {
  const row = await loadContainer(tx, containerId);
  return parseStored<ContainerConfig>(row.config_json, 'container config').networks ?? {};
}

/**
 * Connects a container to a network with the given options (a checked JSON text).
 * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH, NETWORK_CONNECTED
 */
export async function networkConnect(tx: Tx, containerId: string, network: string, options: string): Promise<void> {
  const row = await loadContainer(tx, containerId);
  const config = parseStored<ContainerConfig>(row.config_json, 'container config');
  const networks = config.networks ?? {};
  if (Object.hasOwn(networks, network)) {
    throw new BerthError(
      'NETWORK_CONNECTED',
      `container ${row.name} is already connected to network ${network}; disconnect it first`,
      { details: { id: containerId, network } },
    );
  }
  config.networks = { ...networks, [network]: JSON.parse(options) as NetworkOptions };
  await writeContainerConfig(tx, row, config, 'network.connect', { network });
}

/**
 * Disconnects a container from a network, dropping its aliases there.
 * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH, NO_SUCH_NETWORK
 */
export async function networkDisconnect(tx: Tx, containerId: string, network: string): Promise<void> {
  const row = await loadContainer(tx, containerId);
  const config = parseStored<ContainerConfig>(row.config_json, 'container config');
  if (!config.networks || !Object.hasOwn(config.networks, network)) {
    throw new BerthError('NO_SUCH_NETWORK', `container ${row.name} is not connected to network ${network}`, {
      details: { id: containerId, network },
    });
  }
  const { [network]: _removed, ...rest } = config.networks;
  config.networks = rest;
  await writeContainerConfig(tx, row, config, 'network.disconnect', { network });
}

/**
 * Throws unless `network` is a non-empty network name.
 * @throws INVALID_ARGUMENT
 */
export function assertNetworkName(network: unknown): asserts network is string {
  if (typeof network !== 'string' || network === '') {
    throw new BerthError('INVALID_ARGUMENT', 'network name is empty; pass the name of a network');
  }
}

// ---------------------------------------------------------------- exit codes

/** Records a container's exit code (it outlives the container) and journals `container.exit`. */
export async function addExitCode(tx: Tx, containerId: string, code: number): Promise<void> {
  await tx.q.run(q.putExitCode, { id: containerId, code, now: tx.now });
  const ctr = await tx.q.get(q.getContainer, { id: containerId });
  await appendEvent(tx, {
    namespace: ctr?.namespace ?? tx.ns,
    type: 'container.exit',
    subject: { kind: 'container', id: containerId, ...(ctr ? { name: ctr.name } : {}) },
    data: { code },
  });
}

/**
 * The recorded exit code of a container.
 * @throws NO_SUCH_EXIT_CODE
 */
export async function getExitCode(tx: Tx, containerId: string): Promise<number> {
  const row = await tx.q.get(q.getExitCode, { id: containerId });
  if (!row) {
    throw new BerthError('NO_SUCH_EXIT_CODE', `no exit code is recorded for container ${containerId}`, {
      details: { id: containerId },
    });
  }
  return row.code;
}

/** Deletes exit codes older than the retention whose container no longer exists. */
export async function pruneExitCodes(tx: Tx): Promise<void> {
  await tx.q.run(q.pruneExitCodes, { before: tx.now - EXIT_CODE_RETENTION_MS });
}

// ---------------------------------------------------------------- the runtime's paths

function emptyDBConfig(): DBConfig {
  return { os: '', staticDir: '', tmpDir: '', graphRoot: '', runRoot: '', graphDriver: '', volumePath: '' };
}

/** The paths recorded by the first caller of validateDBConfig (all empty before). */
export async function getDBConfig(tx: Tx): Promise<DBConfig> {
  const value = await readMeta(tx, 'db_config');
  return value ? { ...emptyDBConfig(), ...parseStored<Partial<DBConfig>>(value, 'db config') } : emptyDBConfig();
}

/**
 * The first caller records its values; a later caller whose non-empty value differs from
 * a recorded non-empty one is refused. An empty value on either side is no mismatch, so
 * nothing is ever filled in later.
 * @throws DB_CONFIG_MISMATCH naming the field
 */
export async function validateDBConfig(tx: Tx, cfg: Partial<DBConfig>): Promise<void> {
  const value = await readMeta(tx, 'db_config');
  if (value === undefined) {
    const first = emptyDBConfig();
    for (const field of DB_CONFIG_FIELDS) first[field] = cfg[field] ?? '';
    await writeMeta(tx, 'db_config', JSON.stringify(first));
    return;
  }
  const recorded = { ...emptyDBConfig(), ...parseStored<Partial<DBConfig>>(value, 'db config') };
  for (const field of DB_CONFIG_FIELDS) {
    const given = cfg[field] ?? '';
    const have = recorded[field];
    if (given !== '' && have !== '' && given !== have) {
      throw new BerthError(
        'DB_CONFIG_MISMATCH',
        `database configuration mismatch for ${field}: the store was created with ${JSON.stringify(have)}, this runtime uses ${JSON.stringify(given)}; use the original setting or another store`,
        { details: { field, recorded: have, given } },
      );
    }
  }
}

// ---------------------------------------------------------------- refresh

const REFRESHED_STATUS: Record<string, string> = {
  running: 'exited',
  paused: 'exited',
  stopping: 'exited',
  stopped: 'exited',
  created: 'configured',
  unknown: 'configured',
};

/**
 * Resets runtime state as after a reboot (libpod's rules): running, paused, stopping and
 * stopped containers become exited; created and unknown become configured; pids, mounts
 * and exec sessions are cleared; exit codes dropped; pod cgroups and volume mount counts
 * reset; and the locks this host took before it rebooted are broken.
 */
export async function refresh(tx: Tx, reason: string): Promise<void> {
  for (const row of await tx.q.all(q.everyContainerState, {})) {
    const state = parseStored<Record<string, unknown>>(row.state_json, 'container state');
    const status = typeof state.status === 'string' ? (REFRESHED_STATUS[state.status] ?? state.status) : state.status;
    const next: Record<string, unknown> = { ...state, status };
    // A container that was running when the machine went down has no exit code to show.
    if (state.status === 'running' || state.status === 'paused' || state.status === 'stopping') {
      delete next.exitCode;
    }
    delete next.pid;
    delete next.mounted;
    delete next.mountpoint;
    delete next.execSessions;
    const text = JSON.stringify(next);
    if (text !== row.state_json) await tx.q.run(q.updateContainerState, { id: row.id, state: text, now: tx.now });
  }
  for (const row of await tx.q.all(q.everyPodState, {})) {
    const state = parseStored<Record<string, unknown>>(row.state_json, 'pod state');
    if ('cgroupPath' in state) {
      delete state.cgroupPath;
      await tx.q.run(q.updatePodState, { id: row.id, state: JSON.stringify(state), now: tx.now });
    }
  }
  for (const row of await tx.q.all(q.everyVolumeState, {})) {
    const state = parseStored<Record<string, unknown>>(row.state_json, 'volume state');
    if (state.mountCount !== undefined && state.mountCount !== 0) {
      state.mountCount = 0;
      await tx.q.run(q.updateVolumeState, { name: row.name, state: JSON.stringify(state), now: tx.now });
    }
  }
  await tx.q.run(q.deleteAllExecSessions, {});
  await tx.q.run(q.deleteAllExitCodes, {});
  await appendEvent(tx, { namespace: '', type: 'store.refresh', subject: { kind: 'store' }, data: { reason } });
  await breakPreRebootLocks(tx);
}
