import type { QueryRunner } from '../db/executor.js';
import { EngineBase } from './engine-base.js';
import type { VolumeRow } from '../db/schema.js';
import { BerthError } from '../errors.js';
import {
  assertArgumentNamespace,
  checkContainerConfig,
  managingWorkspace,
  namedVolumeNames,
  objectId,
  prefixUpperBound,
  prepareNewContainer,
  prepareNewPod,
  prepareNewVolume,
  volumeName,
} from './object-input.js';
import * as q from './object-queries.js';
import type { ContainerRecord, PodRecord } from './object-queries.js';
import { parseStored, toContainer, toPod, toVolume } from './row-mappers.js';
import {
  DB_CONFIG_FIELDS,
  type Container,
  type ContainerConfig,
  type DBConfig,
  type ExecSession,
  type NetworkOptions,
  type Pod,
  type PodConfig,
  type Volume,
  type VolumeConfig,
} from './types.js';
import { assertNonEmpty, assertObjectName, assertPlainObject, toJson } from './validate.js';

type VolumeRecord = Pick<VolumeRow, 'name' | 'namespace' | 'config_json' | 'state_json'>;

const EXIT_CODE_RETENTION_MS = 5 * 60 * 1000;

const REFRESHED_STATUS: Record<string, string> = {
  running: 'exited',
  paused: 'exited',
  stopping: 'exited',
  stopped: 'exited',
  created: 'configured',
  unknown: 'configured',
};

/**
 * The libpod-style object store: containers, pods, volumes, exec sessions, networks and
 * exit codes, with every rule of DESIGN.md §3. Each call is one transaction.
 */
export class ObjectStore extends EngineBase {
  /** The handle's namespace; '' sees every namespace. */
  get namespace(): string {
    return this.ctx.namespace;
  }

  /**
   * Sets the namespace later calls are confined to ('' for all).
   * @throws INVALID_ARGUMENT when `ns` is not a string.
   */
  setNamespace(ns: string): void {
    this.assertOpen();
    if (typeof ns !== 'string') throw new BerthError('INVALID_ARGUMENT', 'namespace must be a string');
    this.ctx.namespace = ns;
  }

  // ---------------------------------------------------------------- internals

  private get nsParams(): { ns: string } {
    return { ns: this.ctx.namespace };
  }

  private assertVisible(namespace: string, what: string): void {
    const ns = this.ctx.namespace;
    if (ns !== '' && namespace !== ns) {
      throw new BerthError(
        'NAMESPACE_MISMATCH',
        `${what} is in namespace ${JSON.stringify(namespace)}, not in the store's namespace ${JSON.stringify(ns)}`,
        { details: { namespace, storeNamespace: ns } },
      );
    }
  }

  private async loadContainer(tx: QueryRunner, id: string): Promise<ContainerRecord> {
    const row = await tx.get(q.getContainer, { id });
    if (!row) throw noSuchContainer(id);
    this.assertVisible(row.namespace, `container ${row.name}`);
    return row;
  }

  private async loadPod(tx: QueryRunner, id: string): Promise<PodRecord> {
    const row = await tx.get(q.getPod, { id });
    if (!row) throw noSuchPod(id);
    this.assertVisible(row.namespace, `pod ${row.name}`);
    return row;
  }

  private async loadVolume(tx: QueryRunner, name: string): Promise<VolumeRecord> {
    const row = await tx.get(q.getVolume, { name });
    if (!row) throw noSuchVolume(name);
    this.assertVisible(row.namespace, `volume ${name}`);
    return row;
  }

  private containerArg(ctr: unknown): string {
    const id = objectId(ctr, 'container');
    assertArgumentNamespace(ctr as Container, this.ctx.namespace, `container ${id}`);
    return id;
  }

  private podArg(pod: unknown): string {
    const id = objectId(pod, 'pod');
    assertArgumentNamespace(pod as Pod, this.ctx.namespace, `pod ${id}`);
    return id;
  }

  private volumeArg(vol: unknown): string {
    const name = volumeName(vol);
    assertArgumentNamespace(vol as Volume, this.ctx.namespace, `volume ${name}`);
    return name;
  }

  /** Refuses an id or name already taken by a container or a pod. */
  private async assertIdAndNameFree(tx: QueryRunner, id: string, name: string): Promise<void> {
    for (const row of await tx.all(q.findIdOrName, { id, name })) {
      const code = row.kind === 'pod' ? 'POD_EXISTS' : 'CONTAINER_EXISTS';
      const clash = row.id === id ? `id ${id}` : `name ${name}`;
      throw new BerthError(
        code,
        `a ${row.kind} with ${clash} already exists; choose another ${row.id === id ? 'id' : 'name'}`,
        {
          details: { id: row.id, name: row.name, kind: row.kind },
        },
      );
    }
  }

  private async assertNameFree(tx: QueryRunner, name: string): Promise<void> {
    const row = await tx.get(q.findName, { name });
    if (row) {
      const code = row.kind === 'pod' ? 'POD_EXISTS' : 'CONTAINER_EXISTS';
      throw new BerthError(code, `the name ${name} is already used by ${row.kind} ${row.id}; choose another name`, {
        details: { id: row.id, name, kind: row.kind },
      });
    }
  }

  /** Dependencies exist, are visible, share the namespace and the pod (or both have none). */
  private async checkDependencies(tx: QueryRunner, config: ContainerConfig, namespace: string): Promise<void> {
    const pod = config.pod ?? null;
    for (const dep of config.dependencies ?? []) {
      const row = await tx.get(q.getContainer, { id: dep });
      if (!row) {
        throw new BerthError(
          'NO_SUCH_CONTAINER',
          `container ${config.name} depends on container ${dep}, which does not exist; add it first`,
          {
            details: { id: dep },
          },
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

  private async checkNamedVolumes(tx: QueryRunner, config: ContainerConfig, namespace: string): Promise<void> {
    for (const name of namedVolumeNames(config)) {
      const row = await tx.get(q.getVolume, { name });
      if (!row) {
        throw new BerthError(
          'NO_SUCH_VOLUME',
          `container ${config.name} uses volume ${name}, which does not exist; create it first`,
          {
            details: { name },
          },
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

  private async insertContainer(tx: QueryRunner, now: number, ctr: Container): Promise<void> {
    const { config } = ctr;
    const namespace = config.namespace!;
    await this.assertIdAndNameFree(tx, config.id, config.name);
    await this.checkDependencies(tx, config, namespace);
    await this.checkNamedVolumes(tx, config, namespace);
    await tx.run(q.insertObjectId, { id: config.id, name: config.name, kind: 'container' });
    await tx.run(q.insertContainer, {
      id: config.id,
      name: config.name,
      namespace,
      pod: config.pod ?? null,
      workspace: managingWorkspace(config.labels),
      config: toJson(config, 'container config'),
      state: toJson(ctr.state, 'container state'),
      now,
    });
    for (const dep of config.dependencies ?? []) await tx.run(q.insertDependency, { id: config.id, dep });
    for (const volume of namedVolumeNames(config)) await tx.run(q.insertContainerVolume, { id: config.id, volume });
    await this.event(tx, now, {
      namespace,
      type: 'container.create',
      subject: { kind: 'container', id: config.id, name: config.name },
      data: config.pod ? { pod: config.pod } : {},
    });
  }

  /** Refuses to remove a container others depend on or with exec sessions. */
  private async assertRemovable(
    tx: QueryRunner,
    row: ContainerRecord,
    alsoRemoved: ReadonlySet<string>,
  ): Promise<void> {
    const dependents = (await tx.all(q.dependents, { id: row.id }))
      .map((r) => r.container_id)
      .filter((id) => !alsoRemoved.has(id));
    if (dependents.length > 0) {
      throw new BerthError(
        'DEPENDENCY_EXISTS',
        `container ${row.name} has dependent containers which must be removed first: ${dependents.join(', ')}`,
        { details: { id: row.id, dependents } },
      );
    }
    const sessions = (await tx.all(q.containerExecSessions, { container: row.id })).map((r) => r.id);
    if (sessions.length > 0) {
      throw new BerthError(
        'EXEC_SESSION_EXISTS',
        `container ${row.name} has active exec sessions: ${sessions.join(', ')}; remove them first (removeContainerExecSessions)`,
        { details: { id: row.id, sessions } },
      );
    }
  }

  private async deleteContainerRow(tx: QueryRunner, now: number, row: ContainerRecord): Promise<void> {
    await tx.run(q.deleteContainer, { id: row.id });
    await tx.run(q.deleteObjectId, { id: row.id });
    await this.event(tx, now, {
      namespace: row.namespace,
      type: 'container.remove',
      subject: { kind: 'container', id: row.id, name: row.name },
      data: row.pod_id ? { pod: row.pod_id } : {},
    });
  }

  // ---------------------------------------------------------------- store-wide

  /**
   * Name of the container or pod with this full id.
   * @throws EMPTY_ID, NO_SUCH_CONTAINER (for either kind), NAMESPACE_MISMATCH
   */
  async getName(id: string): Promise<string> {
    this.assertOpen();
    assertNonEmpty(id, 'id');
    return this.read(async (tx) => {
      const entry = await tx.get(q.findObjectId, { id });
      if (!entry) throw noSuchContainer(id);
      const row = entry.kind === 'pod' ? await tx.get(q.getPod, { id }) : await tx.get(q.getContainer, { id });
      if (row) this.assertVisible(row.namespace, `${entry.kind} ${entry.name}`);
      return entry.name;
    });
  }

  /**
   * The runtime paths recorded by the first caller of validateDBConfig (all empty before).
   */
  async getDBConfig(): Promise<DBConfig> {
    this.assertOpen();
    const row = await this.direct.get(q.getMeta, { key: 'db_config' });
    return row ? parseStored<DBConfig>(row.value, 'db config') : emptyDBConfig();
  }

  /**
   * Records `cfg` where nothing is recorded yet; a non-empty value that differs from a
   * recorded non-empty one is refused.
   * @throws DB_CONFIG_MISMATCH naming the field, INVALID_ARGUMENT
   */
  async validateDBConfig(cfg: Partial<DBConfig>): Promise<void> {
    this.assertOpen();
    assertPlainObject(cfg, 'db config');
    for (const field of DB_CONFIG_FIELDS) {
      if (cfg[field] !== undefined && typeof cfg[field] !== 'string') {
        throw new BerthError('INVALID_ARGUMENT', `db config field ${field} must be a string`, { details: { field } });
      }
    }
    await this.write(async (tx) => {
      const row = await tx.get(q.getMeta, { key: 'db_config' });
      const recorded = row ? parseStored<DBConfig>(row.value, 'db config') : emptyDBConfig();
      let changed = false;
      for (const field of DB_CONFIG_FIELDS) {
        const given = cfg[field] ?? '';
        const have = recorded[field] ?? '';
        if (given !== '' && have !== '' && given !== have) {
          throw new BerthError(
            'DB_CONFIG_MISMATCH',
            `database configuration mismatch for ${field}: the store was created with ${JSON.stringify(have)}, this runtime uses ${JSON.stringify(given)}; use the original setting or another store`,
            { details: { field, recorded: have, given } },
          );
        }
        if (given !== '' && have === '') {
          recorded[field] = given;
          changed = true;
        }
      }
      if (changed) await tx.run(q.putMeta, { key: 'db_config', value: JSON.stringify(recorded) });
    });
  }

  /**
   * Resets runtime state after a reboot (libpod's rules): running, paused, stopping and
   * stopped containers become exited; created and unknown become configured; pids,
   * mounts and exec sessions are cleared; exit codes dropped; pod cgroups and volume
   * mount counts reset.
   */
  async refresh(): Promise<void> {
    await this.write((tx, now) => this.refreshIn(tx, now, 'manual'));
  }

  /** The body of {@link refresh}, inside a caller's write transaction. */
  protected async refreshIn(tx: QueryRunner, now: number, reason: string): Promise<void> {
    for (const row of await tx.all(q.everyContainerState, {})) {
      const state = parseStored<Record<string, unknown>>(row.state_json, 'container state');
      const status = typeof state.status === 'string' ? (REFRESHED_STATUS[state.status] ?? state.status) : state.status;
      const next: Record<string, unknown> = { ...state, status };
      delete next.pid;
      delete next.mounted;
      delete next.mountpoint;
      delete next.execSessions;
      const text = JSON.stringify(next);
      if (text !== row.state_json) await tx.run(q.updateContainerState, { id: row.id, state: text, now });
    }
    for (const row of await tx.all(q.everyPodState, {})) {
      const state = parseStored<Record<string, unknown>>(row.state_json, 'pod state');
      if ('cgroupPath' in state) {
        delete state.cgroupPath;
        await tx.run(q.updatePodState, { id: row.id, state: JSON.stringify(state), now });
      }
    }
    for (const row of await tx.all(q.everyVolumeState, {})) {
      const state = parseStored<Record<string, unknown>>(row.state_json, 'volume state');
      if (state.mountCount !== undefined && state.mountCount !== 0) {
        state.mountCount = 0;
        await tx.run(q.updateVolumeState, { name: row.name, state: JSON.stringify(state), now });
      }
    }
    await tx.run(q.deleteAllExecSessions, {});
    await tx.run(q.deleteAllExitCodes, {});
    await this.event(tx, now, { namespace: '', type: 'store.refresh', subject: { kind: 'store' }, data: { reason } });
  }

  // ---------------------------------------------------------------- containers

  /**
   * The container with this full id.
   * @throws EMPTY_ID, NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
   */
  async container(id: string): Promise<Container> {
    this.assertOpen();
    assertNonEmpty(id, 'container id');
    const row = await this.direct.get(q.getContainer, { id });
    if (!row) throw noSuchContainer(id);
    this.assertVisible(row.namespace, `container ${row.name}`);
    return toContainer(row);
  }

  /**
   * Finds a container by full id, exact name, or unique literal id prefix, in that order.
   * @throws EMPTY_ID, NO_SUCH_CONTAINER, AMBIGUOUS_ID
   */
  async lookupContainer(idOrName: string): Promise<Container> {
    return toContainer(await this.lookupContainerRow(idOrName));
  }

  /**
   * The full id of the container `idOrName` resolves to (see {@link lookupContainer}).
   * @throws EMPTY_ID, NO_SUCH_CONTAINER, AMBIGUOUS_ID
   */
  async lookupContainerID(idOrName: string): Promise<string> {
    return (await this.lookupContainerRow(idOrName)).id;
  }

  private async lookupContainerRow(idOrName: string): Promise<ContainerRecord> {
    this.assertOpen();
    assertNonEmpty(idOrName, 'container id or name');
    const rows = await this.direct.all(q.lookupContainer, {
      x: idOrName,
      hi: prefixUpperBound(idOrName),
      ns: this.ctx.namespace,
    });
    return pickLookup(rows, idOrName, 'container', noSuchContainer);
  }

  /** True when a container with this full id exists in the handle's namespace. */
  async hasContainer(id: string): Promise<boolean> {
    this.assertOpen();
    assertNonEmpty(id, 'container id');
    const row = await this.direct.get(q.getContainer, { id });
    return row !== undefined && (this.ctx.namespace === '' || row.namespace === this.ctx.namespace);
  }

  /**
   * Adds a container that is not in a pod. A missing id is generated; a missing
   * namespace takes the handle's. Returns the stored container.
   * @throws EMPTY_ID, INVALID_NAME, INVALID_ARGUMENT, CONTAINER_EXISTS, POD_EXISTS,
   *   NO_SUCH_CONTAINER, NO_SUCH_VOLUME, NAMESPACE_MISMATCH
   */
  async addContainer(ctr: Container): Promise<Container> {
    this.assertOpen();
    const prepared = prepareNewContainer(ctr, this.ctx.namespace, this.ctx.clock());
    if (prepared.config.pod !== undefined) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `container ${prepared.config.name} belongs to pod ${prepared.config.pod}; add it with addContainerToPod`,
        { details: { pod: prepared.config.pod } },
      );
    }
    await this.write((tx, now) => this.insertContainer(tx, now, prepared));
    return prepared;
  }

  /**
   * Removes a container that is not in a pod.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH, INVALID_ARGUMENT (pod member),
   *   DEPENDENCY_EXISTS, EXEC_SESSION_EXISTS
   */
  async removeContainer(ctr: Container): Promise<void> {
    this.assertOpen();
    const id = this.containerArg(ctr);
    await this.write(async (tx, now) => {
      const row = await this.loadContainer(tx, id);
      if (row.pod_id !== null) {
        throw new BerthError(
          'INVALID_ARGUMENT',
          `container ${row.name} is in pod ${row.pod_id}; remove it with removeContainerFromPod`,
          { details: { id, pod: row.pod_id } },
        );
      }
      await this.assertRemovable(tx, row, new Set());
      await this.deleteContainerRow(tx, now, row);
    });
  }

  /**
   * The stored version of a container.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
   */
  async updateContainer(ctr: Container): Promise<Container> {
    this.assertOpen();
    const id = this.containerArg(ctr);
    return toContainer(await this.read((tx) => this.loadContainer(tx, id)));
  }

  /**
   * Writes a container's `state`.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH, INVALID_ARGUMENT
   */
  async saveContainer(ctr: Container): Promise<void> {
    this.assertOpen();
    const id = this.containerArg(ctr);
    assertPlainObject(ctr.state, 'container state');
    const state = toJson(ctr.state, 'container state');
    await this.write(async (tx, now) => {
      const row = await this.loadContainer(tx, id);
      await tx.run(q.updateContainerState, { id, state, now });
      await this.event(tx, now, {
        namespace: row.namespace,
        type: 'container.update',
        subject: { kind: 'container', id, name: row.name },
        data: { status: ctr.state.status },
      });
    });
  }

  /**
   * Ids of the containers that depend on this one.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
   */
  async containerInUse(ctr: Container): Promise<string[]> {
    this.assertOpen();
    const id = this.containerArg(ctr);
    return this.read(async (tx) => {
      await this.loadContainer(tx, id);
      return (await tx.all(q.dependents, { id })).map((r) => r.container_id);
    });
  }

  /** Every container in the handle's namespace (all with ''), oldest first. */
  async allContainers(): Promise<Container[]> {
    this.assertOpen();
    const rows = await this.direct.all(q.allContainers, this.nsParams);
    return rows.map(toContainer);
  }

  /**
   * The config of the container with this full id.
   * @throws EMPTY_ID, NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
   */
  async getContainerConfig(id: string): Promise<ContainerConfig> {
    return (await this.container(id)).config;
  }

  /**
   * Replaces a container's config. The id, pod, dependencies and namespace stay; the
   * name may change (a taken name is refused).
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH, INVALID_ARGUMENT, INVALID_NAME,
   *   CONTAINER_EXISTS, POD_EXISTS, NO_SUCH_VOLUME
   */
  async rewriteContainerConfig(ctr: Container, newConfig: ContainerConfig): Promise<void> {
    this.assertOpen();
    const id = this.containerArg(ctr);
    this.checkNewContainerConfig(id, newConfig);
    await this.write((tx, now) => this.rewriteContainerIn(tx, now, id, newConfig, 'any'));
  }

  /**
   * Replaces a container's config and, when `newName` is given, renames it: `oldName`
   * must be its current name and `newConfig.name` must equal `newName`.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH, INVALID_ARGUMENT, INVALID_NAME,
   *   CONTAINER_EXISTS, POD_EXISTS
   */
  async safeRewriteContainerConfig(
    ctr: Container,
    oldName: string,
    newName: string,
    newConfig: ContainerConfig,
  ): Promise<void> {
    this.assertOpen();
    const id = this.containerArg(ctr);
    this.checkNewContainerConfig(id, newConfig);
    if (newName !== '' && newName !== undefined) {
      assertObjectName(newName, 'container');
      if (newConfig.name !== newName) {
        throw new BerthError(
          'INVALID_ARGUMENT',
          `new config names the container ${String(newConfig.name)}, not ${newName}; make them agree`,
          {
            details: { newName, configName: newConfig.name },
          },
        );
      }
    }
    await this.write((tx, now) => this.rewriteContainerIn(tx, now, id, newConfig, newName ? { oldName } : 'keep'));
  }

  private checkNewContainerConfig(id: string, newConfig: ContainerConfig): void {
    assertPlainObject(newConfig, 'container config');
    if (newConfig.id !== id) {
      throw new BerthError('INVALID_ARGUMENT', `a container's id cannot change (${id} -> ${String(newConfig.id)})`, {
        details: { id, newId: newConfig.id },
      });
    }
    assertObjectName(newConfig.name, 'container');
    checkContainerConfig(newConfig);
  }

  private async rewriteContainerIn(
    tx: QueryRunner,
    now: number,
    id: string,
    newConfig: ContainerConfig,
    rename: { oldName: string } | 'keep' | 'any',
  ): Promise<void> {
    const row = await this.loadContainer(tx, id);
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
        {
          details: { name: row.name, configName: config.name },
        },
      );
    }
    const renamed = config.name !== row.name;
    if (renamed) {
      await this.assertNameFree(tx, config.name);
      await tx.run(q.renameObjectId, { id, name: config.name });
    }
    const volumesBefore = namedVolumeNames(old);
    const volumesAfter = namedVolumeNames(config);
    if (!sameSet(volumesBefore, volumesAfter)) {
      await this.checkNamedVolumes(tx, config, row.namespace);
      await tx.run(q.deleteContainerVolumes, { id });
      for (const volume of volumesAfter) await tx.run(q.insertContainerVolume, { id, volume });
    }
    await tx.run(q.updateContainerConfig, {
      id,
      name: config.name,
      workspace: managingWorkspace(config.labels),
      config: toJson(config, 'container config'),
      now,
    });
    await this.event(tx, now, {
      namespace: row.namespace,
      type: renamed ? 'container.rename' : 'container.update',
      subject: { kind: 'container', id, name: config.name },
      data: renamed ? { oldName: row.name, newName: config.name } : {},
    });
  }

  // ---------------------------------------------------------------- networks

  /**
   * The networks a container is connected to, with their options.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
   */
  async getNetworks(ctr: Container): Promise<Record<string, NetworkOptions>> {
    this.assertOpen();
    const id = this.containerArg(ctr);
    const row = await this.read((tx) => this.loadContainer(tx, id));
    return parseStored<ContainerConfig>(row.config_json, 'container config').networks ?? {};
  }

  /**
   * Connects a container to a network with the given options (aliases, ...).
   * @throws INVALID_ARGUMENT (empty network), NO_SUCH_CONTAINER, NAMESPACE_MISMATCH,
   *   NETWORK_CONNECTED
   */
  async networkConnect(ctr: Container, network: string, opts: NetworkOptions = {}): Promise<void> {
    this.assertOpen();
    const id = this.containerArg(ctr);
    assertNetworkName(network);
    assertPlainObject(opts, `options of network ${network}`);
    const options = toJson(opts, `options of network ${network}`);
    await this.write(async (tx, now) => {
      const row = await this.loadContainer(tx, id);
      const config = parseStored<ContainerConfig>(row.config_json, 'container config');
      const networks = config.networks ?? {};
      if (Object.hasOwn(networks, network)) {
        throw new BerthError(
          'NETWORK_CONNECTED',
          `container ${row.name} is already connected to network ${network}; disconnect it first`,
          {
            details: { id, network },
          },
        );
      }
      config.networks = { ...networks, [network]: JSON.parse(options) as NetworkOptions };
      await this.writeNetworks(tx, now, row, config, 'network.connect', network);
    });
  }

  /**
   * Disconnects a container from a network, dropping its aliases there.
   * @throws INVALID_ARGUMENT (empty network), NO_SUCH_CONTAINER, NAMESPACE_MISMATCH,
   *   NO_SUCH_NETWORK
   */
  async networkDisconnect(ctr: Container, network: string): Promise<void> {
    this.assertOpen();
    const id = this.containerArg(ctr);
    assertNetworkName(network);
    await this.write(async (tx, now) => {
      const row = await this.loadContainer(tx, id);
      const config = parseStored<ContainerConfig>(row.config_json, 'container config');
      if (!config.networks || !Object.hasOwn(config.networks, network)) {
        throw new BerthError('NO_SUCH_NETWORK', `container ${row.name} is not connected to network ${network}`, {
          details: { id, network },
        });
      }
      const { [network]: _removed, ...rest } = config.networks;
      config.networks = rest;
      await this.writeNetworks(tx, now, row, config, 'network.disconnect', network);
    });
  }

  private async writeNetworks(
    tx: QueryRunner,
    now: number,
    row: ContainerRecord,
    config: ContainerConfig,
    type: string,
    network: string,
  ): Promise<void> {
    await tx.run(q.updateContainerConfig, {
      id: row.id,
      name: row.name,
      workspace: managingWorkspace(config.labels),
      config: JSON.stringify(config),
      now,
    });
    await this.event(tx, now, {
      namespace: row.namespace,
      type,
      subject: { kind: 'container', id: row.id, name: row.name },
      data: { network },
    });
  }

  // ---------------------------------------------------------------- exit codes

  /**
   * Records a container's exit code (-1..255); it outlives the container.
   * @throws EMPTY_ID, INVALID_ARGUMENT
   */
  async addContainerExitCode(id: string, code: number): Promise<void> {
    this.assertOpen();
    assertNonEmpty(id, 'container id');
    if (!Number.isInteger(code) || code < -1 || code > 255) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `exit code ${String(code)} is out of range; use an integer from -1 to 255`,
        {
          details: { code },
        },
      );
    }
    await this.write(async (tx, now) => {
      await tx.run(q.putExitCode, { id, code, now });
    });
  }

  /**
   * The recorded exit code of a container.
   * @throws EMPTY_ID, NO_SUCH_EXIT_CODE
   */
  async getContainerExitCode(id: string): Promise<number> {
    this.assertOpen();
    assertNonEmpty(id, 'container id');
    const row = await this.direct.get(q.getExitCode, { id });
    if (!row) {
      throw new BerthError('NO_SUCH_EXIT_CODE', `no exit code is recorded for container ${id}`, { details: { id } });
    }
    return row.code;
  }

  /** Deletes exit codes older than 5 minutes whose container no longer exists. */
  async pruneContainerExitCodes(): Promise<void> {
    this.assertOpen();
    await this.write(async (tx, now) => {
      await tx.run(q.pruneExitCodes, { before: now - EXIT_CODE_RETENTION_MS });
    });
  }

  // ---------------------------------------------------------------- exec sessions

  /**
   * Records that an exec session runs in a container.
   * @throws EMPTY_ID, INVALID_ARGUMENT, NO_SUCH_CONTAINER, NAMESPACE_MISMATCH,
   *   EXEC_SESSION_EXISTS
   */
  async addExecSession(ctr: Container, session: ExecSession): Promise<void> {
    this.assertOpen();
    const id = this.containerArg(ctr);
    assertPlainObject(session, 'exec session');
    assertNonEmpty(session.id, 'exec session id');
    if (session.containerId !== undefined && session.containerId !== id) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `exec session ${session.id} belongs to container ${session.containerId}, not ${id}`,
        {
          details: { session: session.id, containerId: session.containerId, id },
        },
      );
    }
    await this.write(async (tx, now) => {
      const row = await this.loadContainer(tx, id);
      if (await tx.get(q.getExecSession, { id: session.id })) {
        throw new BerthError('EXEC_SESSION_EXISTS', `exec session ${session.id} already exists; use another id`, {
          details: { session: session.id },
        });
      }
      await tx.run(q.insertExecSession, { id: session.id, container: id });
      await this.event(tx, now, {
        namespace: row.namespace,
        type: 'exec.create',
        subject: { kind: 'exec', id: session.id },
        data: { container: id },
      });
    });
  }

  /**
   * The id of the container an exec session runs in.
   * @throws EMPTY_ID, NO_SUCH_EXEC_SESSION
   */
  async getExecSession(id: string): Promise<string> {
    this.assertOpen();
    assertNonEmpty(id, 'exec session id');
    const row = await this.direct.get(q.getExecSession, { id });
    if (!row) throw noSuchExecSession(id);
    return row.container_id;
  }

  /**
   * Removes the record of one exec session.
   * @throws EMPTY_ID, NO_SUCH_EXEC_SESSION, NAMESPACE_MISMATCH
   */
  async removeExecSession(session: ExecSession): Promise<void> {
    this.assertOpen();
    assertPlainObject(session, 'exec session');
    assertNonEmpty(session.id, 'exec session id');
    await this.write(async (tx, now) => {
      const row = await tx.get(q.getExecSession, { id: session.id });
      if (!row) throw noSuchExecSession(session.id);
      const ctr = await tx.get(q.getContainer, { id: row.container_id });
      if (ctr) this.assertVisible(ctr.namespace, `container ${ctr.name}`);
      await tx.run(q.deleteExecSession, { id: session.id });
      await this.event(tx, now, {
        namespace: ctr?.namespace ?? '',
        type: 'exec.remove',
        subject: { kind: 'exec', id: session.id },
        data: { container: row.container_id },
      });
    });
  }

  /**
   * Ids of a container's exec sessions.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
   */
  async getContainerExecSessions(ctr: Container): Promise<string[]> {
    this.assertOpen();
    const id = this.containerArg(ctr);
    return this.read(async (tx) => {
      await this.loadContainer(tx, id);
      return (await tx.all(q.containerExecSessions, { container: id })).map((r) => r.id);
    });
  }

  /**
   * Removes every exec session record of a container.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
   */
  async removeContainerExecSessions(ctr: Container): Promise<void> {
    this.assertOpen();
    const id = this.containerArg(ctr);
    await this.write(async (tx, now) => {
      const row = await this.loadContainer(tx, id);
      const sessions = (await tx.all(q.containerExecSessions, { container: id })).map((r) => r.id);
      if (sessions.length === 0) return;
      await tx.run(q.deleteContainerExecSessions, { container: id });
      for (const session of sessions) {
        await this.event(tx, now, {
          namespace: row.namespace,
          type: 'exec.remove',
          subject: { kind: 'exec', id: session },
          data: { container: id },
        });
      }
    });
  }

  // ---------------------------------------------------------------- pods

  /**
   * The pod with this full id.
   * @throws EMPTY_ID, NO_SUCH_POD, NAMESPACE_MISMATCH
   */
  async pod(id: string): Promise<Pod> {
    this.assertOpen();
    assertNonEmpty(id, 'pod id');
    const row = await this.direct.get(q.getPod, { id });
    if (!row) throw noSuchPod(id);
    this.assertVisible(row.namespace, `pod ${row.name}`);
    return toPod(row);
  }

  /**
   * Finds a pod by full id, exact name, or unique literal id prefix.
   * @throws EMPTY_ID, NO_SUCH_POD, AMBIGUOUS_ID
   */
  async lookupPod(idOrName: string): Promise<Pod> {
    this.assertOpen();
    assertNonEmpty(idOrName, 'pod id or name');
    const rows = await this.direct.all(q.lookupPod, {
      x: idOrName,
      hi: prefixUpperBound(idOrName),
      ns: this.ctx.namespace,
    });
    return toPod(pickLookup(rows, idOrName, 'pod', noSuchPod));
  }

  /** True when a pod with this full id exists in the handle's namespace. */
  async hasPod(id: string): Promise<boolean> {
    this.assertOpen();
    assertNonEmpty(id, 'pod id');
    const row = await this.direct.get(q.getPod, { id });
    return row !== undefined && (this.ctx.namespace === '' || row.namespace === this.ctx.namespace);
  }

  /**
   * True when the container with id `ctrId` is a member of the pod.
   * @throws EMPTY_ID, NO_SUCH_POD, NAMESPACE_MISMATCH
   */
  async podHasContainer(pod: Pod, ctrId: string): Promise<boolean> {
    this.assertOpen();
    const id = this.podArg(pod);
    assertNonEmpty(ctrId, 'container id');
    return this.read(async (tx) => {
      await this.loadPod(tx, id);
      const row = await tx.get(q.getContainer, { id: ctrId });
      return row !== undefined && row.pod_id === id;
    });
  }

  /**
   * Ids of the pod's containers.
   * @throws NO_SUCH_POD, NAMESPACE_MISMATCH
   */
  async podContainersByID(pod: Pod): Promise<string[]> {
    return (await this.podContainerRows(pod)).map((r) => r.id);
  }

  /**
   * The pod's containers.
   * @throws NO_SUCH_POD, NAMESPACE_MISMATCH
   */
  async podContainers(pod: Pod): Promise<Container[]> {
    return (await this.podContainerRows(pod)).map(toContainer);
  }

  private async podContainerRows(pod: Pod): Promise<ContainerRecord[]> {
    this.assertOpen();
    const id = this.podArg(pod);
    return this.read(async (tx) => {
      await this.loadPod(tx, id);
      return tx.all(q.podContainerRows, { pod: id });
    });
  }

  /**
   * Adds a pod. A missing id is generated; a missing namespace takes the handle's.
   * @throws EMPTY_ID, INVALID_NAME, INVALID_ARGUMENT, POD_EXISTS, CONTAINER_EXISTS,
   *   NAMESPACE_MISMATCH
   */
  async addPod(pod: Pod): Promise<Pod> {
    this.assertOpen();
    const prepared = prepareNewPod(pod, this.ctx.namespace, this.ctx.clock());
    const { config } = prepared;
    await this.write(async (tx, now) => {
      await this.assertIdAndNameFree(tx, config.id, config.name);
      await tx.run(q.insertObjectId, { id: config.id, name: config.name, kind: 'pod' });
      await tx.run(q.insertPod, {
        id: config.id,
        name: config.name,
        namespace: config.namespace!,
        workspace: managingWorkspace(config.labels),
        config: toJson(config, 'pod config'),
        state: toJson(prepared.state, 'pod state'),
        now,
      });
      await this.event(tx, now, {
        namespace: config.namespace!,
        type: 'pod.create',
        subject: { kind: 'pod', id: config.id, name: config.name },
      });
    });
    return prepared;
  }

  /**
   * Removes an empty pod.
   * @throws NO_SUCH_POD, NAMESPACE_MISMATCH, POD_NOT_EMPTY
   */
  async removePod(pod: Pod): Promise<void> {
    this.assertOpen();
    const id = this.podArg(pod);
    await this.write(async (tx, now) => {
      const row = await this.loadPod(tx, id);
      const members = await tx.all(q.podContainerRows, { pod: id });
      if (members.length > 0) {
        throw new BerthError(
          'POD_NOT_EMPTY',
          `pod ${row.name} still has ${members.length} container(s); remove them first (removePodContainers)`,
          { details: { id, containers: members.map((m) => m.id) } },
        );
      }
      await tx.run(q.deletePod, { id });
      await tx.run(q.deleteObjectId, { id });
      await this.event(tx, now, {
        namespace: row.namespace,
        type: 'pod.remove',
        subject: { kind: 'pod', id, name: row.name },
      });
    });
  }

  /**
   * Removes every container of a pod in one transaction: all or none.
   * @throws NO_SUCH_POD, NAMESPACE_MISMATCH, DEPENDENCY_EXISTS (a dependent outside the
   *   pod), EXEC_SESSION_EXISTS
   */
  async removePodContainers(pod: Pod): Promise<void> {
    this.assertOpen();
    const id = this.podArg(pod);
    await this.write(async (tx, now) => {
      await this.loadPod(tx, id);
      const members = await tx.all(q.podContainerRows, { pod: id });
      const ids = new Set(members.map((m) => m.id));
      for (const member of members) await this.assertRemovable(tx, member, ids);
      // Dependency rows between members go first, so no foreign key points at a removed row.
      for (const member of members) await tx.run(q.deleteContainerDependencies, { id: member.id });
      for (const member of members) await this.deleteContainerRow(tx, now, member);
    });
  }

  /**
   * Adds a container to a pod; `ctr.config.pod` must be absent or this pod's id.
   * @throws as addContainer, plus NO_SUCH_POD and INVALID_ARGUMENT (another pod)
   */
  async addContainerToPod(pod: Pod, ctr: Container): Promise<Container> {
    this.assertOpen();
    const podId = this.podArg(pod);
    const prepared = prepareNewContainer(ctr, this.ctx.namespace, this.ctx.clock());
    if (prepared.config.pod !== undefined && prepared.config.pod !== podId) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `container ${prepared.config.name} belongs to pod ${prepared.config.pod}, not to pod ${podId}`,
        { details: { pod: prepared.config.pod, target: podId } },
      );
    }
    prepared.config.pod = podId;
    await this.write(async (tx, now) => {
      const podRow = await this.loadPod(tx, podId);
      if (podRow.namespace !== prepared.config.namespace) {
        throw new BerthError(
          'NAMESPACE_MISMATCH',
          `container ${prepared.config.name} (namespace ${JSON.stringify(prepared.config.namespace)}) cannot join pod ${podRow.name} in namespace ${JSON.stringify(podRow.namespace)}`,
          { details: { namespace: prepared.config.namespace, podNamespace: podRow.namespace } },
        );
      }
      await this.insertContainer(tx, now, prepared);
    });
    return prepared;
  }

  /**
   * Removes a container from its pod (and from the store).
   * @throws NO_SUCH_POD (also when in no pod), NO_SUCH_CONTAINER, NAMESPACE_MISMATCH,
   *   INVALID_ARGUMENT (in another pod), DEPENDENCY_EXISTS,
   *   EXEC_SESSION_EXISTS
   */
  async removeContainerFromPod(pod: Pod, ctr: Container): Promise<void> {
    this.assertOpen();
    const podId = this.podArg(pod);
    const id = this.containerArg(ctr);
    if (ctr.config.pod !== undefined && ctr.config.pod !== podId) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `container ${id} belongs to pod ${ctr.config.pod}, not to pod ${podId}`,
        {
          details: { pod: ctr.config.pod, target: podId },
        },
      );
    }
    await this.write(async (tx, now) => {
      const podRow = await this.loadPod(tx, podId);
      const row = await this.loadContainer(tx, id);
      if (row.pod_id === null) {
        throw new BerthError('NO_SUCH_POD', `container ${row.name} is not in any pod; remove it with removeContainer`, {
          details: { id, pod: podId },
        });
      }
      if (row.pod_id !== podId) {
        throw new BerthError(
          'INVALID_ARGUMENT',
          `container ${row.name} belongs to pod ${row.pod_id}, not to pod ${podRow.name}`,
          {
            details: { id, pod: podId, actualPod: row.pod_id },
          },
        );
      }
      await this.assertRemovable(tx, row, new Set());
      await this.deleteContainerRow(tx, now, row);
    });
  }

  /**
   * The stored version of a pod.
   * @throws NO_SUCH_POD, NAMESPACE_MISMATCH
   */
  async updatePod(pod: Pod): Promise<Pod> {
    this.assertOpen();
    const id = this.podArg(pod);
    return toPod(await this.read((tx) => this.loadPod(tx, id)));
  }

  /**
   * Writes a pod's `state`.
   * @throws NO_SUCH_POD, NAMESPACE_MISMATCH, INVALID_ARGUMENT
   */
  async savePod(pod: Pod): Promise<void> {
    this.assertOpen();
    const id = this.podArg(pod);
    assertPlainObject(pod.state, 'pod state');
    const state = toJson(pod.state, 'pod state');
    await this.write(async (tx, now) => {
      const row = await this.loadPod(tx, id);
      await tx.run(q.updatePodState, { id, state, now });
      await this.event(tx, now, {
        namespace: row.namespace,
        type: 'pod.update',
        subject: { kind: 'pod', id, name: row.name },
      });
    });
  }

  /** Every pod in the handle's namespace (all with ''), oldest first. */
  async allPods(): Promise<Pod[]> {
    this.assertOpen();
    return (await this.direct.all(q.allPods, this.nsParams)).map(toPod);
  }

  /**
   * Replaces a pod's config; the id and namespace stay, the name may change.
   * @throws NO_SUCH_POD, NAMESPACE_MISMATCH, INVALID_ARGUMENT, INVALID_NAME, POD_EXISTS,
   *   CONTAINER_EXISTS
   */
  async rewritePodConfig(pod: Pod, newConfig: PodConfig): Promise<void> {
    this.assertOpen();
    const id = this.podArg(pod);
    assertPlainObject(newConfig, 'pod config');
    if (newConfig.id !== id) {
      throw new BerthError('INVALID_ARGUMENT', `a pod's id cannot change (${id} -> ${String(newConfig.id)})`, {
        details: { id, newId: newConfig.id },
      });
    }
    assertObjectName(newConfig.name, 'pod');
    await this.write(async (tx, now) => {
      const row = await this.loadPod(tx, id);
      const config: PodConfig = { ...newConfig, namespace: newConfig.namespace ?? row.namespace };
      if (config.namespace !== row.namespace) {
        throw new BerthError('INVALID_ARGUMENT', `pod ${row.name} cannot move to another namespace`, {
          details: { namespace: row.namespace, newNamespace: config.namespace },
        });
      }
      const renamed = config.name !== row.name;
      if (renamed) {
        await this.assertNameFree(tx, config.name);
        await tx.run(q.renameObjectId, { id, name: config.name });
      }
      await tx.run(q.updatePodConfig, {
        id,
        name: config.name,
        workspace: managingWorkspace(config.labels),
        config: toJson(config, 'pod config'),
        now,
      });
      await this.event(tx, now, {
        namespace: row.namespace,
        type: renamed ? 'pod.rename' : 'pod.update',
        subject: { kind: 'pod', id, name: config.name },
        data: renamed ? { oldName: row.name, newName: config.name } : {},
      });
    });
  }

  // ---------------------------------------------------------------- volumes

  /**
   * The volume with this exact name.
   * @throws EMPTY_ID, NO_SUCH_VOLUME, NAMESPACE_MISMATCH
   */
  async volume(name: string): Promise<Volume> {
    this.assertOpen();
    assertNonEmpty(name, 'volume name');
    const row = await this.direct.get(q.getVolume, { name });
    if (!row) throw noSuchVolume(name);
    this.assertVisible(row.namespace, `volume ${name}`);
    return toVolume(row);
  }

  /**
   * Finds a volume by exact name, else by unique literal name prefix.
   * @throws EMPTY_ID, NO_SUCH_VOLUME, AMBIGUOUS_ID
   */
  async lookupVolume(nameOrPrefix: string): Promise<Volume> {
    this.assertOpen();
    assertNonEmpty(nameOrPrefix, 'volume name');
    const rows = await this.direct.all(q.lookupVolume, {
      x: nameOrPrefix,
      hi: prefixUpperBound(nameOrPrefix),
      ns: this.ctx.namespace,
    });
    return toVolume(
      pickLookup(
        rows.map((r) => ({ ...r, id: r.name })),
        nameOrPrefix,
        'volume',
        noSuchVolume,
      ),
    );
  }

  /** True when a volume with this name exists in the handle's namespace. */
  async hasVolume(name: string): Promise<boolean> {
    this.assertOpen();
    assertNonEmpty(name, 'volume name');
    const row = await this.direct.get(q.getVolume, { name });
    return row !== undefined && (this.ctx.namespace === '' || row.namespace === this.ctx.namespace);
  }

  /**
   * Ids of the containers that use the volume.
   * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH
   */
  async volumeInUse(vol: Volume): Promise<string[]> {
    this.assertOpen();
    const name = this.volumeArg(vol);
    return this.read(async (tx) => {
      await this.loadVolume(tx, name);
      return (await tx.all(q.volumeUsers, { volume: name })).map((r) => r.container_id);
    });
  }

  /**
   * Adds a volume; a missing namespace takes the handle's.
   * @throws EMPTY_ID, INVALID_NAME, INVALID_ARGUMENT, VOLUME_EXISTS, NAMESPACE_MISMATCH
   */
  async addVolume(vol: Volume): Promise<Volume> {
    this.assertOpen();
    const prepared = prepareNewVolume(vol, this.ctx.namespace, this.ctx.clock());
    const { config } = prepared;
    await this.write(async (tx, now) => {
      if (await tx.get(q.getVolume, { name: config.name })) {
        throw new BerthError('VOLUME_EXISTS', `a volume named ${config.name} already exists; choose another name`, {
          details: { name: config.name },
        });
      }
      await tx.run(q.insertVolume, {
        name: config.name,
        namespace: config.namespace!,
        workspace: managingWorkspace(config.labels),
        config: toJson(config, 'volume config'),
        state: toJson(prepared.state, 'volume state'),
        now,
      });
      await this.event(tx, now, {
        namespace: config.namespace!,
        type: 'volume.create',
        subject: { kind: 'volume', name: config.name },
      });
    });
    return prepared;
  }

  /**
   * Removes a volume no container uses.
   * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH, VOLUME_IN_USE
   */
  async removeVolume(vol: Volume): Promise<void> {
    this.assertOpen();
    const name = this.volumeArg(vol);
    await this.write(async (tx, now) => {
      const row = await this.loadVolume(tx, name);
      const users = (await tx.all(q.volumeUsers, { volume: name })).map((r) => r.container_id);
      if (users.length > 0) {
        throw new BerthError(
          'VOLUME_IN_USE',
          `volume ${name} is used by container(s) ${users.join(', ')}; remove them first`,
          {
            details: { name, containers: users },
          },
        );
      }
      await tx.run(q.deleteVolume, { name });
      await this.event(tx, now, { namespace: row.namespace, type: 'volume.remove', subject: { kind: 'volume', name } });
    });
  }

  /**
   * The stored version of a volume.
   * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH
   */
  async updateVolume(vol: Volume): Promise<Volume> {
    this.assertOpen();
    const name = this.volumeArg(vol);
    return toVolume(await this.read((tx) => this.loadVolume(tx, name)));
  }

  /**
   * Writes a volume's `state`.
   * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH, INVALID_ARGUMENT
   */
  async saveVolume(vol: Volume): Promise<void> {
    this.assertOpen();
    const name = this.volumeArg(vol);
    assertPlainObject(vol.state, 'volume state');
    const state = toJson(vol.state, 'volume state');
    await this.write(async (tx, now) => {
      const row = await this.loadVolume(tx, name);
      await tx.run(q.updateVolumeState, { name, state, now });
      await this.event(tx, now, { namespace: row.namespace, type: 'volume.update', subject: { kind: 'volume', name } });
    });
  }

  /** Every volume in the handle's namespace (all with ''), oldest first. */
  async allVolumes(): Promise<Volume[]> {
    this.assertOpen();
    return (await this.direct.all(q.allVolumes, this.nsParams)).map(toVolume);
  }

  /**
   * Replaces a volume's config; its name and namespace stay.
   * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH, INVALID_ARGUMENT
   */
  async rewriteVolumeConfig(vol: Volume, newConfig: VolumeConfig): Promise<void> {
    this.assertOpen();
    const name = this.volumeArg(vol);
    assertPlainObject(newConfig, 'volume config');
    if (newConfig.name !== name) {
      throw new BerthError('INVALID_ARGUMENT', `a volume's name cannot change (${name} -> ${String(newConfig.name)})`, {
        details: { name, newName: newConfig.name },
      });
    }
    await this.write(async (tx, now) => {
      const row = await this.loadVolume(tx, name);
      const config: VolumeConfig = { ...newConfig, namespace: newConfig.namespace ?? row.namespace };
      if (config.namespace !== row.namespace) {
        throw new BerthError('INVALID_ARGUMENT', `volume ${name} cannot move to another namespace`, {
          details: { namespace: row.namespace, newNamespace: config.namespace },
        });
      }
      await tx.run(q.updateVolumeConfig, {
        name,
        workspace: managingWorkspace(config.labels),
        config: toJson(config, 'volume config'),
        now,
      });
      await this.event(tx, now, { namespace: row.namespace, type: 'volume.update', subject: { kind: 'volume', name } });
    });
  }
}

// ---------------------------------------------------------------- helpers

function emptyDBConfig(): DBConfig {
  return { os: '', staticDir: '', tmpDir: '', graphRoot: '', runRoot: '', graphDriver: '', volumePath: '' };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

function assertNetworkName(network: unknown): asserts network is string {
  if (typeof network !== 'string' || network === '') {
    throw new BerthError('INVALID_ARGUMENT', 'network name is empty; pass the name of a network');
  }
}

/** Applies lookup precedence to the ranked rows of a lookup query. */
function pickLookup<R extends { rank: number; id: string }>(
  rows: R[],
  input: string,
  kind: string,
  missing: (x: string) => BerthError,
): R {
  const exact = rows.find((r) => r.rank === 0) ?? rows.find((r) => r.rank === 1);
  if (exact) return exact;
  const prefixed = rows.filter((r) => r.rank === 2);
  if (prefixed.length === 1) return prefixed[0]!;
  if (prefixed.length > 1) {
    throw new BerthError(
      'AMBIGUOUS_ID',
      `more than one ${kind} matches ${JSON.stringify(input)}; give more characters of the id, or the full name`,
      {
        details: { input, matches: prefixed.map((r) => r.id) },
      },
    );
  }
  throw missing(input);
}

function noSuchContainer(id: string): BerthError {
  return new BerthError(
    'NO_SUCH_CONTAINER',
    `no container with id or name ${JSON.stringify(id)}; list containers with \`berth ps -a\``,
    {
      details: { id },
    },
  );
}

function noSuchPod(id: string): BerthError {
  return new BerthError(
    'NO_SUCH_POD',
    `no pod with id or name ${JSON.stringify(id)}; list pods with \`berth pod ls\``,
    {
      details: { id },
    },
  );
}

function noSuchVolume(name: string): BerthError {
  return new BerthError(
    'NO_SUCH_VOLUME',
    `no volume named ${JSON.stringify(name)}; list volumes with \`berth volume ls\``,
    {
      details: { name },
    },
  );
}

function noSuchExecSession(id: string): BerthError {
  return new BerthError('NO_SUCH_EXEC_SESSION', `no exec session with id ${JSON.stringify(id)}`, { details: { id } });
}
