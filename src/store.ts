import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Backend, MigrationReport } from './db/backend.js';
import { BerthError } from './errors.js';
import type { EngineContext, Tx } from './engine/context.js';
import {
  checkListOptions,
  checkNewEvent,
  eventPage,
  EVENT_PAGE,
  firstSeqAt,
  lastSeq,
  listEvents,
  prunedThrough,
  pruneBatch,
  assertSeq,
} from './engine/events/events.js';
import { appendEvent } from './engine/events/journal.js';
import * as locks from './engine/locks/locks.js';
import { LOCK_COMMIT } from './engine/locks/locks.js';
import * as maintenance from './engine/maintenance.js';
import * as containers from './engine/objects/containers.js';
import { prepareNewContainer, prepareNewPod, prepareNewVolume } from './engine/objects/input.js';
import * as pods from './engine/objects/pods.js';
import { findObject, namesHeldElsewhere } from './engine/objects/registry.js';
import { toContainer, toPod, toVolume } from './engine/objects/rows.js';
import * as runtime from './engine/objects/runtime.js';
import * as volumes from './engine/objects/volumes.js';
import * as listing from './engine/objects/listing.js';
import { checkContainerQuery, checkPodQuery, checkVolumeQuery } from './engine/objects/listing-query.js';
import { lookupContainerRow, lookupPodRow, lookupVolumeRow } from './engine/rules/lookup.js';
import { assertNamespace, assertVisible } from './engine/rules/namespaces.js';
import { mayHoldSecrets } from './engine/secrets/crypto.js';
import { dataKeyFor, currentDataKey, parseNewKey, rotateKey, secretsStatus } from './engine/secrets/keys.js';
import { envSealer, reveal } from './engine/secrets/sealing.js';
import { runTransaction, StoreRunner, type OpenTransaction, type Runner } from './engine/transaction.js';
import type {
  BerthEvent,
  Container,
  ContainerConfig,
  DBConfig,
  ExecSession,
  NetworkOptions,
  NewContainer,
  NewPod,
  NewVolume,
  Pod,
  PodConfig,
  Volume,
  VolumeConfig,
  LockInfo,
  AcquireOptions,
  DiagnosisReport,
  RepairReport,
  Snapshot,
  SecretsStatus,
  ReadStateOptions,
  StateExport,
  StateVersion,
  WorkspaceState,
  WriteStateOptions,
  WorkspaceInfo,
  ListEventsOptions,
  NewEvent,
  ContainerQuery,
  ContainerSummary,
  ContainerSummaryField,
  PodQuery,
  PodSummary,
  VolumeQuery,
  VolumeSummary,
  ForceUnlockOptions,
  TerraformStateFile,
  WorkspaceLockOptions,
  WriteTerraformStateOptions,
  ForeignName,
} from './engine/types.js';
import { DB_CONFIG_FIELDS } from './engine/types.js';
import { assertNonEmpty, assertPlainObject, toJson } from './engine/validate.js';
import * as state from './engine/workspaces/state.js';
import * as terraform from './engine/workspaces/terraform-state.js';
import * as ws from './engine/workspaces/workspaces.js';
import { DEFAULT_WORKSPACE } from './engine/workspaces/workspaces.js';
import type { ApplyOptions, ApplyResult, Manifest, Plan, PlanOptions } from './plan/types.js';

/*
 * The Store: the one public class (STYLE.md 14). Each method checks its arguments, then
 * runs one engine operation (engine/…) in a transaction of its own — or, on the `tx` of
 * `store.transaction`, inside that transaction. The rules live in the engine; nothing here
 * decides what is allowed.
 */

/** What every facade object of one handle shares. */
interface Core {
  readonly ctx: EngineContext;
  readonly runner: Runner;
  readonly migration: MigrationReport;
}

/** What happened to one item of a batch removal. */
export interface BatchItemResult<T> {
  /** The id or name that was asked for. */
  ref: string;
  /** The removed object, when it was removed. */
  removed?: T;
  /** Why it was not, when it was not. */
  error?: BerthError;
}

/** Options of a batch removal. */
export interface BatchOptions<T> {
  /** Containers: remove active ones and their exec sessions too. Pods: remove their containers too. */
  force?: boolean;
  /** Called after each item, removed or not, in order (a CLI prints each as it happens). */
  onResult?: (result: BatchItemResult<T>) => void;
}

/** What a batch removal did, item by item: a failure stops nothing else. */
export interface BatchResult<T> {
  removed: T[];
  failed: { ref: string; error: BerthError }[];
}

/**
 * The handle a `store.transaction` callback gets: the store's object, workspace, lock and
 * event methods, all running in that one transaction.
 */
export type Transaction = Omit<
  Store,
  | 'transaction'
  | 'close'
  | 'plan'
  | 'apply'
  | 'backup'
  | 'replaceContents'
  | 'repair'
  | 'diagnose'
  | 'refreshAfterReboot'
  | 'removeContainers'
  | 'removePods'
  | 'removeVolumes'
>;

function notInTransaction(what: string): BerthError {
  return new BerthError(
    'INVALID_ARGUMENT',
    `${what} cannot run inside a transaction; call it on the store, outside store.transaction`,
  );
}

let makeStore: (core: Core, ns: string) => Store;
let makeWorkspaces: (store: Store, core: Core) => Workspaces;
let makeLocks: (store: Store, core: Core) => Locks;
let makeEvents: (store: Store, core: Core) => Events;
let makeSecrets: (store: Store, core: Core) => Secrets;

/**
 * A handle on a berth store: containers, pods, volumes, exec sessions, networks and exit
 * codes (libpod's State), workspaces with their state and locks, the event journal, and
 * plan/apply. Obtain one with `openStore()`; close it with `close()`.
 *
 * Every method throws only {@link BerthError}. Besides the codes its `@throws` names, any
 * call may meet a fault of the store — STORE_CLOSED (the handle was closed), STORE_BUSY
 * (retrying may help), STORE_UNAVAILABLE, STORE_CORRUPT — and any write through a
 * `readonly` handle is INVALID_ARGUMENT. The same holds for `workspaces`, `locks`,
 * `events` and `secrets`.
 */
export class Store {
  readonly #core: Core;
  #ns: string;
  /** Named stack states of the handle's namespace. */
  readonly workspaces: Workspaces;
  /** Locks by key, store-wide. */
  readonly locks: Locks;
  /** The event journal. */
  readonly events: Events;
  /** Secret values: status, reveal, key rotation. */
  readonly secrets: Secrets;

  static {
    makeStore = (core, ns) => new Store(core, ns);
  }

  private constructor(core: Core, ns: string) {
    this.#core = core;
    this.#ns = ns;
    this.workspaces = makeWorkspaces(this, core);
    this.locks = makeLocks(this, core);
    this.events = makeEvents(this, core);
    this.secrets = makeSecrets(this, core);
  }

  // ---------------------------------------------------------------- running operations

  #one<T>(op: (tx: Tx) => T | Promise<T>): Promise<T> {
    return this.#core.runner.one(this.#ns, op);
  }

  #read<T>(op: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#core.runner.read(this.#ns, op);
  }

  #write<T>(op: (tx: Tx) => Promise<T>, opts?: { durable?: boolean }): Promise<T> {
    return this.#core.runner.write(this.#ns, op, opts);
  }

  #assertOutsideTransaction(what: string): void {
    if (this.#core.runner.inTransaction) throw notInTransaction(what);
  }

  // ---------------------------------------------------------------- the handle

  /** Which database the store lives in. */
  get backend(): Backend {
    return this.#core.ctx.exec.backend;
  }

  /** Where the store lives: a file path, or a PostgreSQL URL without its password. */
  get location(): string {
    return this.#core.ctx.exec.location;
  }

  /** What opening the store migrated. */
  get migration(): MigrationReport {
    return this.#core.migration;
  }

  /** The handle's namespace; '' sees every namespace. */
  get namespace(): string {
    return this.#ns;
  }

  /**
   * Confines later calls of this handle to a namespace ('' for all).
   * @throws INVALID_ARGUMENT (not a string), INVALID_NAME
   */
  setNamespace(ns: string): void {
    this.#assertOpen();
    assertNamespace(ns);
    this.#ns = ns;
  }

  /**
   * Another handle on the same store and connection, confined to `ns`. It needs no close
   * of its own: it lives as long as this handle. On a transaction's `tx`, it runs in the
   * same transaction.
   * @throws NAMESPACE_MISMATCH when this handle is confined to another namespace,
   *   INVALID_NAME, STORE_CLOSED
   */
  withNamespace(ns: string): this {
    this.#assertOpen();
    assertNamespace(ns);
    if (this.#ns !== '' && ns !== this.#ns) {
      throw new BerthError(
        'NAMESPACE_MISMATCH',
        `this handle is confined to namespace ${JSON.stringify(this.#ns)}, not ${JSON.stringify(ns)}`,
        { details: { namespace: ns, storeNamespace: this.#ns } },
      );
    }
    if (ns === this.#ns) return this;
    return makeStore(this.#core, ns) as this;
  }

  #assertOpen(): void {
    if (this.#core.ctx.life.closed) {
      throw new BerthError('STORE_CLOSED', `store ${this.location} is closed; open it again with openStore()`);
    }
  }

  /**
   * Closes the store (every handle made from it); later calls fail with STORE_CLOSED.
   * Closing twice is harmless.
   * @throws INVALID_ARGUMENT on a transaction's `tx` (close the store itself)
   */
  async close(): Promise<void> {
    this.#assertOutsideTransaction('close');
    const ctx = this.#core.ctx;
    if (ctx.life.closed) return;
    ctx.life.closed = true;
    await ctx.release();
  }

  /**
   * Runs `fn` as one write transaction. Only the calls made through the `tx` it is given,
   * and awaited before it returns, belong to it; they commit together when it returns,
   * and none does when it throws (its error comes back unchanged) or when one of them
   * failed. A call on `tx` after the callback settled is TRANSACTION_CLOSED; a call on the
   * store itself from inside the callback is INVALID_ARGUMENT (use `tx`); calls from other
   * async flows wait for the transaction to end. Inside it, a held lock fails at once
   * (LOCKED) instead of waiting.
   * @throws whatever `fn` throws; the first failed call's error; TRANSACTION_CLOSED;
   *   INVALID_ARGUMENT (a call on tx left pending, a store call inside, a read-only
   *   handle); STORE_BUSY, STORE_UNAVAILABLE, STORE_CLOSED
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    if (this.#core.runner.inTransaction) {
      return Promise.reject(
        new BerthError('INVALID_ARGUMENT', 'transactions do not nest: keep using the tx you were given'),
      );
    }
    if (typeof fn !== 'function') {
      return Promise.reject(new BerthError('INVALID_ARGUMENT', 'transaction needs a callback: async (tx) => { … }'));
    }
    const core = this.#core;
    return runTransaction(core.ctx, (open: OpenTransaction) =>
      fn(makeStore({ ctx: core.ctx, runner: open, migration: core.migration }, this.#ns)),
    );
  }

  // ---------------------------------------------------------------- store-wide

  /**
   * Resets runtime state as after a reboot (DESIGN.md §3): containers exited or
   * configured, pids, mounts, exec sessions and exit codes cleared, pre-reboot locks broken.
   * @throws INVALID_ARGUMENT (read-only handle), and the store's faults
   */
  async refresh(): Promise<void> {
    await this.#write((tx) => runtime.refresh(tx, 'manual'));
  }

  /**
   * Runs refresh once when the host rebooted since the store last saw it (openStore does
   * this by itself); returns whether it ran.
   * @throws STORE_BUSY, STORE_UNAVAILABLE
   */
  async refreshAfterReboot(): Promise<boolean> {
    if (await this.#one((tx) => maintenance.bootIsRecorded(tx))) return false;
    return this.#write((tx) => maintenance.refreshAfterReboot(tx));
  }

  /**
   * The runtime paths recorded by the first caller of validateDBConfig (all empty before).
   * @throws only the store's faults (STORE_CLOSED, STORE_BUSY, STORE_UNAVAILABLE)
   */
  async getDBConfig(): Promise<DBConfig> {
    return this.#one((tx) => runtime.getDBConfig(tx));
  }

  /**
   * The first caller records its values; a later caller whose non-empty value differs
   * from a recorded non-empty one is refused. Nothing is filled in later.
   * @throws DB_CONFIG_MISMATCH naming the field, INVALID_ARGUMENT
   */
  async validateDBConfig(cfg: Partial<DBConfig>): Promise<void> {
    assertPlainObject(cfg, 'db config');
    for (const field of DB_CONFIG_FIELDS) {
      if (cfg[field] !== undefined && typeof cfg[field] !== 'string') {
        throw new BerthError('INVALID_ARGUMENT', `db config field ${field} must be a string`, { details: { field } });
      }
    }
    await this.#write((tx) => runtime.validateDBConfig(tx, cfg));
  }

  /**
   * Name of the container or pod with this full id.
   * @throws EMPTY_ID, NO_SUCH_CONTAINER (for either kind), NAMESPACE_MISMATCH
   */
  async getName(id: string): Promise<string> {
    assertNonEmpty(id, 'id');
    return this.#one(async (tx) => {
      const found = await findObject(tx, id);
      if (!found)
        throw new BerthError('NO_SUCH_CONTAINER', `no container or pod with id ${JSON.stringify(id)}`, {
          details: { id },
        });
      assertVisible(tx.ns, found.namespace, `${found.kind} ${found.name}`);
      return found.name;
    });
  }

  /**
   * The objects, workspaces and locks of the handle's namespace as of one snapshot, with
   * the event seq they were read at: follow the journal with `since: seq` and nothing is
   * missed or seen twice.
   * @throws only the store's faults (STORE_CLOSED, STORE_BUSY, STORE_UNAVAILABLE)
   */
  async snapshot(): Promise<Snapshot> {
    return this.#read((tx) => maintenance.snapshot(tx));
  }

  /**
   * Which of these names an object outside the handle's namespace holds (names are
   * unique store-wide): a plan shows such a create blocked instead of failing at apply.
   * @throws only the store's faults (STORE_CLOSED, STORE_BUSY, STORE_UNAVAILABLE)
   */
  async namesHeldElsewhere(
    wanted: readonly { kind: 'container' | 'pod' | 'volume'; name: string }[],
  ): Promise<ForeignName[]> {
    if (wanted.length === 0) return [];
    return this.#read((tx) => namesHeldElsewhere(tx, wanted));
  }

  // ---------------------------------------------------------------- containers

  /**
   * The container with this full id.
   * @throws EMPTY_ID, NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
   */
  async container(id: string): Promise<Container> {
    assertNonEmpty(id, 'container id');
    return toContainer(await this.#one((tx) => containers.loadContainer(tx, id)));
  }

  /**
   * Finds a container by full id, exact name, or unique literal id prefix, in that order.
   * @throws EMPTY_ID, NO_SUCH_CONTAINER, AMBIGUOUS_ID
   */
  async lookupContainer(idOrName: string): Promise<Container> {
    return toContainer(await this.#one((tx) => lookupContainerRow(tx, idOrName)));
  }

  /**
   * The full id of the container `idOrName` resolves to (see lookupContainer).
   * @throws EMPTY_ID, NO_SUCH_CONTAINER, AMBIGUOUS_ID
   */
  async lookupContainerID(idOrName: string): Promise<string> {
    return (await this.#one((tx) => lookupContainerRow(tx, idOrName))).id;
  }

  /**
   * True when a container with this full id exists in the handle's namespace.
   * @throws EMPTY_ID
   */
  async hasContainer(id: string): Promise<boolean> {
    assertNonEmpty(id, 'container id');
    return this.#one((tx) => containers.hasContainer(tx, id));
  }

  /**
   * Adds a container that is in no pod. A missing id is generated, a missing namespace
   * takes the handle's, a missing createdAt is now, a missing state is configured.
   * Returns the stored container.
   * @throws EMPTY_ID, INVALID_NAME, INVALID_ARGUMENT, CONTAINER_EXISTS, POD_EXISTS,
   *   NO_SUCH_CONTAINER, NO_SUCH_VOLUME, NAMESPACE_MISMATCH
   */
  async addContainer(ctr: NewContainer): Promise<Container> {
    const prepared = prepareNewContainer(ctr, this.#ns, this.#core.ctx.clock());
    await this.#write((tx) => containers.addContainer(tx, prepared));
    return prepared;
  }

  /**
   * Removes a container that is not in a pod.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH, INVALID_ARGUMENT (pod member),
   *   DEPENDENCY_EXISTS, EXEC_SESSION_EXISTS
   */
  async removeContainer(ctr: Container): Promise<void> {
    const id = containers.containerArg(this.#ns, ctr);
    await this.#write((tx) => containers.removeContainer(tx, id));
  }

  /**
   * The stored version of a container.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
   */
  async updateContainer(ctr: Container): Promise<Container> {
    const id = containers.containerArg(this.#ns, ctr);
    return toContainer(await this.#one((tx) => containers.loadContainer(tx, id)));
  }

  /**
   * Writes a container's `state`.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH, INVALID_ARGUMENT
   */
  async saveContainer(ctr: Container): Promise<void> {
    const id = containers.containerArg(this.#ns, ctr);
    assertPlainObject(ctr.state, 'container state');
    const text = toJson(ctr.state, 'container state');
    await this.#write((tx) => containers.saveContainerState(tx, id, text, ctr.state.status));
  }

  /**
   * Ids of the containers that depend on this one.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
   */
  async containerInUse(ctr: Container): Promise<string[]> {
    const id = containers.containerArg(this.#ns, ctr);
    return this.#read((tx) => containers.containerInUse(tx, id));
  }

  /**
   * Every container in the handle's namespace (all with ''), oldest first.
   * @throws only the store's faults (STORE_CLOSED, STORE_BUSY, STORE_UNAVAILABLE)
   */
  async allContainers(): Promise<Container[]> {
    return this.#one((tx) => containers.allContainers(tx));
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
    const id = containers.containerArg(this.#ns, ctr);
    containers.checkNewContainerConfig(id, newConfig);
    await this.#write((tx) => containers.rewriteContainer(tx, id, newConfig, 'any'));
  }

  /**
   * Replaces a container's config and, when `newName` is not empty, renames it: `oldName`
   * must be its current name and `newConfig.name` must equal `newName`.
   * @throws EMPTY_ID (an empty id, or an empty old name when renaming), NO_SUCH_CONTAINER, NAMESPACE_MISMATCH,
   *   INVALID_ARGUMENT, INVALID_NAME, CONTAINER_EXISTS, POD_EXISTS
   */
  async safeRewriteContainerConfig(
    ctr: Container,
    oldName: string,
    newName: string,
    newConfig: ContainerConfig,
  ): Promise<void> {
    const id = containers.containerArg(this.#ns, ctr);
    containers.checkNewContainerConfig(id, newConfig);
    const renaming = newName !== '' && newName !== undefined;
    if (renaming) {
      assertNonEmpty(oldName, 'old container name');
      if (newConfig.name !== newName) {
        throw new BerthError(
          'INVALID_ARGUMENT',
          `new config names the container ${String(newConfig.name)}, not ${newName}; make them agree`,
          { details: { newName, configName: newConfig.name } },
        );
      }
    }
    await this.#write((tx) => containers.rewriteContainer(tx, id, newConfig, renaming ? { oldName } : 'keep'));
  }

  // ---------------------------------------------------------------- networks

  /**
   * The networks a container is connected to, with their options.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
   */
  async getNetworks(ctr: Container): Promise<Record<string, NetworkOptions>> {
    const id = containers.containerArg(this.#ns, ctr);
    return this.#one((tx) => runtime.getNetworks(tx, id));
  }

  /**
   * Connects a container to a network with the given options (aliases, ...).
   * @throws INVALID_ARGUMENT (empty network), NO_SUCH_CONTAINER, NAMESPACE_MISMATCH, NETWORK_CONNECTED
   */
  async networkConnect(ctr: Container, network: string, opts: NetworkOptions = {}): Promise<void> {
    const id = containers.containerArg(this.#ns, ctr);
    runtime.assertNetworkName(network);
    assertPlainObject(opts, `options of network ${network}`);
    const options = toJson(opts, `options of network ${network}`);
    await this.#write((tx) => runtime.networkConnect(tx, id, network, options));
  }

  /**
   * Disconnects a container from a network, dropping its aliases there.
   * @throws INVALID_ARGUMENT (empty network), NO_SUCH_CONTAINER, NAMESPACE_MISMATCH, NO_SUCH_NETWORK
   */
  async networkDisconnect(ctr: Container, network: string): Promise<void> {
    const id = containers.containerArg(this.#ns, ctr);
    runtime.assertNetworkName(network);
    await this.#write((tx) => runtime.networkDisconnect(tx, id, network));
  }

  // ---------------------------------------------------------------- exit codes

  /**
   * Records a container's exit code (-1..255), journaled as `container.exit`; it outlives
   * the container.
   * @throws EMPTY_ID, INVALID_ARGUMENT
   */
  async addContainerExitCode(id: string, code: number): Promise<void> {
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
    await this.#write((tx) => runtime.addExitCode(tx, id, code));
  }

  /**
   * The recorded exit code of a container.
   * @throws EMPTY_ID, NO_SUCH_EXIT_CODE
   */
  async getContainerExitCode(id: string): Promise<number> {
    assertNonEmpty(id, 'container id');
    return this.#one((tx) => runtime.getExitCode(tx, id));
  }

  /**
   * Deletes exit codes older than 5 minutes whose container no longer exists.
   * @throws INVALID_ARGUMENT (a read-only handle), and the store's faults
   */
  async pruneContainerExitCodes(): Promise<void> {
    await this.#write((tx) => runtime.pruneExitCodes(tx));
  }

  // ---------------------------------------------------------------- exec sessions

  /**
   * Records that an exec session runs in a container.
   * @throws EMPTY_ID, INVALID_ARGUMENT, NO_SUCH_CONTAINER, NAMESPACE_MISMATCH, EXEC_SESSION_EXISTS
   */
  async addExecSession(ctr: Container, session: ExecSession): Promise<void> {
    const id = containers.containerArg(this.#ns, ctr);
    assertPlainObject(session, 'exec session');
    assertNonEmpty(session.id, 'exec session id');
    if (session.containerId !== undefined && session.containerId !== id) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `exec session ${session.id} belongs to container ${session.containerId}, not ${id}`,
        { details: { session: session.id, containerId: session.containerId, id } },
      );
    }
    await this.#write((tx) => runtime.addExecSession(tx, id, session.id));
  }

  /**
   * The id of the container an exec session runs in.
   * @throws EMPTY_ID, NO_SUCH_EXEC_SESSION
   */
  async getExecSession(id: string): Promise<string> {
    assertNonEmpty(id, 'exec session id');
    return this.#one((tx) => runtime.execSessionContainer(tx, id));
  }

  /**
   * Removes the record of one exec session.
   * @throws EMPTY_ID, INVALID_ARGUMENT, NO_SUCH_EXEC_SESSION, NAMESPACE_MISMATCH
   */
  async removeExecSession(session: ExecSession): Promise<void> {
    assertPlainObject(session, 'exec session');
    assertNonEmpty(session.id, 'exec session id');
    await this.#write((tx) => runtime.removeExecSession(tx, session.id));
  }

  /**
   * Ids of a container's exec sessions.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
   */
  async getContainerExecSessions(ctr: Container): Promise<string[]> {
    const id = containers.containerArg(this.#ns, ctr);
    return this.#read((tx) => runtime.containerExecSessions(tx, id));
  }

  /**
   * Removes every exec session record of a container.
   * @throws NO_SUCH_CONTAINER, NAMESPACE_MISMATCH
   */
  async removeContainerExecSessions(ctr: Container): Promise<void> {
    const id = containers.containerArg(this.#ns, ctr);
    await this.#write(async (tx) => containers.removeExecSessionsOf(tx, await containers.loadContainer(tx, id)));
  }

  // ---------------------------------------------------------------- pods

  /**
   * The pod with this full id.
   * @throws EMPTY_ID, NO_SUCH_POD, NAMESPACE_MISMATCH
   */
  async pod(id: string): Promise<Pod> {
    assertNonEmpty(id, 'pod id');
    return toPod(await this.#one((tx) => pods.loadPod(tx, id)));
  }

  /**
   * Finds a pod by full id, exact name, or unique literal id prefix.
   * @throws EMPTY_ID, NO_SUCH_POD, AMBIGUOUS_ID
   */
  async lookupPod(idOrName: string): Promise<Pod> {
    return toPod(await this.#one((tx) => lookupPodRow(tx, idOrName)));
  }

  /**
   * True when a pod with this full id exists in the handle's namespace.
   * @throws EMPTY_ID
   */
  async hasPod(id: string): Promise<boolean> {
    assertNonEmpty(id, 'pod id');
    return this.#one((tx) => pods.hasPod(tx, id));
  }

  /**
   * True when the container with id `ctrId` is a member of the pod.
   * @throws EMPTY_ID, NO_SUCH_POD, NAMESPACE_MISMATCH
   */
  async podHasContainer(pod: Pod, ctrId: string): Promise<boolean> {
    const id = pods.podArg(this.#ns, pod);
    assertNonEmpty(ctrId, 'container id');
    return this.#read((tx) => pods.podHasContainer(tx, id, ctrId));
  }

  /**
   * Ids of the pod's containers.
   * @throws NO_SUCH_POD, NAMESPACE_MISMATCH
   */
  async podContainersByID(pod: Pod): Promise<string[]> {
    const id = pods.podArg(this.#ns, pod);
    return (await this.#read((tx) => pods.podMembers(tx, id))).map((r) => r.id);
  }

  /**
   * The pod's containers.
   * @throws NO_SUCH_POD, NAMESPACE_MISMATCH
   */
  async podContainers(pod: Pod): Promise<Container[]> {
    const id = pods.podArg(this.#ns, pod);
    return (await this.#read((tx) => pods.podMembers(tx, id))).map(toContainer);
  }

  /**
   * Adds a pod. A missing id is generated; a missing namespace takes the handle's.
   * Returns the stored pod.
   * @throws EMPTY_ID, INVALID_NAME, INVALID_ARGUMENT, POD_EXISTS, CONTAINER_EXISTS, NAMESPACE_MISMATCH
   */
  async addPod(pod: NewPod): Promise<Pod> {
    const prepared = prepareNewPod(pod, this.#ns, this.#core.ctx.clock());
    await this.#write((tx) => pods.addPod(tx, prepared));
    return prepared;
  }

  /**
   * Removes an empty pod.
   * @throws NO_SUCH_POD, NAMESPACE_MISMATCH, POD_NOT_EMPTY
   */
  async removePod(pod: Pod): Promise<void> {
    const id = pods.podArg(this.#ns, pod);
    await this.#write((tx) => pods.removePod(tx, id));
  }

  /**
   * Removes every container of a pod in one transaction: all or none.
   * @throws NO_SUCH_POD, NAMESPACE_MISMATCH, DEPENDENCY_EXISTS (a dependent outside the pod), EXEC_SESSION_EXISTS
   */
  async removePodContainers(pod: Pod): Promise<void> {
    const id = pods.podArg(this.#ns, pod);
    await this.#write((tx) => pods.removePodContainers(tx, id));
  }

  /**
   * Adds a container to a pod; `ctr.config.pod` must be absent or this pod's id.
   * @throws as addContainer, plus NO_SUCH_POD and INVALID_ARGUMENT (another pod)
   */
  async addContainerToPod(pod: Pod, ctr: NewContainer): Promise<Container> {
    const podId = pods.podArg(this.#ns, pod);
    const prepared = prepareNewContainer(ctr, this.#ns, this.#core.ctx.clock());
    if (prepared.config.pod !== undefined && prepared.config.pod !== podId) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `container ${prepared.config.name} belongs to pod ${prepared.config.pod}, not to pod ${podId}`,
        { details: { pod: prepared.config.pod, target: podId } },
      );
    }
    prepared.config.pod = podId;
    await this.#write((tx) => pods.addContainerToPod(tx, podId, prepared));
    return prepared;
  }

  /**
   * Removes a container from its pod (and from the store).
   * @throws NO_SUCH_POD (also when in no pod), NO_SUCH_CONTAINER, NAMESPACE_MISMATCH,
   *   INVALID_ARGUMENT (in another pod), DEPENDENCY_EXISTS, EXEC_SESSION_EXISTS
   */
  async removeContainerFromPod(pod: Pod, ctr: Container): Promise<void> {
    const podId = pods.podArg(this.#ns, pod);
    const id = containers.containerArg(this.#ns, ctr);
    if (ctr.config.pod !== undefined && ctr.config.pod !== podId) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `container ${id} belongs to pod ${ctr.config.pod}, not to pod ${podId}`,
        {
          details: { pod: ctr.config.pod, target: podId },
        },
      );
    }
    await this.#write((tx) => pods.removeContainerFromPod(tx, podId, id));
  }

  /**
   * The stored version of a pod.
   * @throws NO_SUCH_POD, NAMESPACE_MISMATCH
   */
  async updatePod(pod: Pod): Promise<Pod> {
    const id = pods.podArg(this.#ns, pod);
    return toPod(await this.#one((tx) => pods.loadPod(tx, id)));
  }

  /**
   * Writes a pod's `state`.
   * @throws NO_SUCH_POD, NAMESPACE_MISMATCH, INVALID_ARGUMENT
   */
  async savePod(pod: Pod): Promise<void> {
    const id = pods.podArg(this.#ns, pod);
    assertPlainObject(pod.state, 'pod state');
    const text = toJson(pod.state, 'pod state');
    await this.#write((tx) => pods.savePodState(tx, id, text));
  }

  /**
   * Every pod in the handle's namespace (all with ''), oldest first.
   * @throws only the store's faults (STORE_CLOSED, STORE_BUSY, STORE_UNAVAILABLE)
   */
  async allPods(): Promise<Pod[]> {
    return this.#one((tx) => pods.allPods(tx));
  }

  /**
   * Replaces a pod's config; the id and namespace stay, the name may change.
   * @throws NO_SUCH_POD, NAMESPACE_MISMATCH, INVALID_ARGUMENT, INVALID_NAME, POD_EXISTS, CONTAINER_EXISTS
   */
  async rewritePodConfig(pod: Pod, newConfig: PodConfig): Promise<void> {
    const id = pods.podArg(this.#ns, pod);
    pods.checkNewPodConfig(id, newConfig);
    await this.#write((tx) => pods.rewritePod(tx, id, newConfig));
  }

  // ---------------------------------------------------------------- volumes

  /**
   * The volume with this exact name.
   * @throws EMPTY_ID, NO_SUCH_VOLUME, NAMESPACE_MISMATCH
   */
  async volume(name: string): Promise<Volume> {
    assertNonEmpty(name, 'volume name');
    return toVolume(await this.#one((tx) => volumes.loadVolume(tx, name)));
  }

  /**
   * Finds a volume by exact name, else by unique literal name prefix.
   * @throws EMPTY_ID, NO_SUCH_VOLUME, AMBIGUOUS_ID
   */
  async lookupVolume(nameOrPrefix: string): Promise<Volume> {
    return toVolume(await this.#one((tx) => lookupVolumeRow(tx, nameOrPrefix)));
  }

  /**
   * True when a volume with this name exists in the handle's namespace.
   * @throws EMPTY_ID
   */
  async hasVolume(name: string): Promise<boolean> {
    assertNonEmpty(name, 'volume name');
    return this.#one((tx) => volumes.hasVolume(tx, name));
  }

  /**
   * Ids of the containers that use the volume.
   * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH
   */
  async volumeInUse(vol: Volume): Promise<string[]> {
    const name = volumes.volumeArg(this.#ns, vol);
    return this.#read((tx) => volumes.volumeUsers(tx, name));
  }

  /**
   * Adds a volume; a missing namespace takes the handle's. Returns the stored volume.
   * @throws EMPTY_ID, INVALID_NAME, INVALID_ARGUMENT, VOLUME_EXISTS, NAMESPACE_MISMATCH
   */
  async addVolume(vol: NewVolume): Promise<Volume> {
    const prepared = prepareNewVolume(vol, this.#ns, this.#core.ctx.clock());
    await this.#write((tx) => volumes.addVolume(tx, prepared));
    return prepared;
  }

  /**
   * Removes a volume no container uses.
   * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH, VOLUME_IN_USE
   */
  async removeVolume(vol: Volume): Promise<void> {
    const name = volumes.volumeArg(this.#ns, vol);
    await this.#write((tx) => volumes.removeVolume(tx, name));
  }

  /**
   * The stored version of a volume.
   * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH
   */
  async updateVolume(vol: Volume): Promise<Volume> {
    const name = volumes.volumeArg(this.#ns, vol);
    return toVolume(await this.#one((tx) => volumes.loadVolume(tx, name)));
  }

  /**
   * Writes a volume's `state`.
   * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH, INVALID_ARGUMENT
   */
  async saveVolume(vol: Volume): Promise<void> {
    const name = volumes.volumeArg(this.#ns, vol);
    assertPlainObject(vol.state, 'volume state');
    const text = toJson(vol.state, 'volume state');
    await this.#write((tx) => volumes.saveVolumeState(tx, name, text));
  }

  /**
   * Every volume in the handle's namespace (all with ''), oldest first.
   * @throws only the store's faults (STORE_CLOSED, STORE_BUSY, STORE_UNAVAILABLE)
   */
  async allVolumes(): Promise<Volume[]> {
    return this.#one((tx) => volumes.allVolumes(tx));
  }

  /**
   * Replaces a volume's config; its name and namespace stay.
   * @throws NO_SUCH_VOLUME, NAMESPACE_MISMATCH, INVALID_ARGUMENT
   */
  async rewriteVolumeConfig(vol: Volume, newConfig: VolumeConfig): Promise<void> {
    const name = volumes.volumeArg(this.#ns, vol);
    volumes.checkNewVolumeConfig(name, newConfig);
    await this.#write((tx) => volumes.rewriteVolume(tx, name, newConfig));
  }

  // ---------------------------------------------------------------- listings

  /**
   * The containers of the handle's namespace that `query` selects, as narrow summaries
   * (podman's `ps`): filters, sort and limit run in the database, and no document is read.
   * With `fields`, each summary has only those fields and the id, and only their columns
   * are read.
   * @throws INVALID_ARGUMENT (details.usage: an unknown filter, status word, sort field or
   *   field), NO_SUCH_CONTAINER, AMBIGUOUS_ID (a `before=`/`since=` reference)
   */
  async listContainers<F extends ContainerSummaryField = ContainerSummaryField>(
    query: ContainerQuery<F> = {},
  ): Promise<Pick<ContainerSummary, F | 'id'>[]> {
    const checked = checkContainerQuery(query);
    return this.#read((tx) => listing.listContainers(tx, checked));
  }

  /**
   * {@link listContainers} a summary at a time: `visit` gets each summary as it is read,
   * in the listing's order, and the count comes back. Nothing is kept but what `visit`
   * keeps, so a listing of 100,000 containers costs that memory, not 100,000 summaries.
   * `visit` runs inside the read: it must not call the store (its calls would wait for
   * the read to end). An error it throws stops the listing and comes back unchanged.
   * @throws as listContainers; whatever `visit` throws
   */
  async eachContainer<F extends ContainerSummaryField = ContainerSummaryField>(
    query: ContainerQuery<F>,
    visit: (summary: Pick<ContainerSummary, F | 'id'>) => void,
  ): Promise<number> {
    const checked = checkContainerQuery(query);
    if (typeof visit !== 'function')
      throw new BerthError('INVALID_ARGUMENT', 'eachContainer needs a function to visit each summary');
    return this.#read((tx) => listing.eachContainer(tx, checked, visit as (summary: ContainerSummary) => void));
  }

  /**
   * The pods of the handle's namespace that `query` selects, with podman's pod status
   * and their containers (podman's `pod ps`).
   * @throws INVALID_ARGUMENT (details.usage: an unknown filter or status word)
   */
  async listPods(query: PodQuery = {}): Promise<PodSummary[]> {
    const checked = checkPodQuery(query);
    return this.#read((tx) => listing.listPods(tx, checked));
  }

  /**
   * The volumes of the handle's namespace that `query` selects, with how many containers
   * use each (podman's `volume ls`).
   * @throws INVALID_ARGUMENT (details.usage: an unknown filter)
   */
  async listVolumes(query: VolumeQuery = {}): Promise<VolumeSummary[]> {
    const checked = checkVolumeQuery(query);
    return this.#read((tx) => listing.listVolumes(tx, checked));
  }

  // ---------------------------------------------------------------- batches

  async #batch<T>(
    what: string,
    refs: readonly string[],
    opts: BatchOptions<T>,
    remove: (tx: Tx, ref: string) => Promise<T>,
  ): Promise<BatchResult<T>> {
    this.#assertOutsideTransaction(what);
    if (!Array.isArray(refs)) throw new BerthError('INVALID_ARGUMENT', `${what} takes a list of ids or names`);
    const result: BatchResult<T> = { removed: [], failed: [] };
    for (const ref of refs) {
      let item: BatchItemResult<T>;
      try {
        item = { ref, removed: await this.#write((tx) => remove(tx, ref)) };
        result.removed.push(item.removed!);
      } catch (err) {
        // A fault of the store is no item's failure: it stops the batch.
        if (!(err instanceof BerthError) || err.code.startsWith('STORE_') || err.code === 'INTERNAL') throw err;
        item = { ref, error: err };
        result.failed.push({ ref, error: err });
      }
      opts.onResult?.(item);
    }
    return result;
  }

  /**
   * Removes containers by id, name or unique id prefix, each in a transaction of its own,
   * pod members included. Without `force` a running or paused container is refused; with
   * it, its exec sessions go too. A failure stops nothing else; `onResult` hears of each.
   * @throws INVALID_ARGUMENT (not a list, or inside a transaction), STORE_BUSY, STORE_UNAVAILABLE
   */
  async removeContainers(idsOrNames: string[], opts: BatchOptions<Container> = {}): Promise<BatchResult<Container>> {
    const force = opts.force === true;
    return this.#batch('removeContainers', idsOrNames, opts, (tx, ref) =>
      containers.removeContainerByRef(tx, ref, force),
    );
  }

  /**
   * Removes pods by id, name or unique id prefix, each in a transaction of its own; with
   * `force` each pod's containers (and their exec sessions) go in the same transaction.
   * @throws INVALID_ARGUMENT (not a list, or inside a transaction), STORE_BUSY, STORE_UNAVAILABLE
   */
  async removePods(idsOrNames: string[], opts: BatchOptions<Pod> = {}): Promise<BatchResult<Pod>> {
    const force = opts.force === true;
    return this.#batch('removePods', idsOrNames, opts, (tx, ref) => pods.removePodByRef(tx, ref, force));
  }

  /**
   * Removes volumes by name or unique name prefix, each in a transaction of its own; a
   * volume in use fails (VOLUME_IN_USE) and stops nothing else.
   * @throws INVALID_ARGUMENT (not a list, or inside a transaction), STORE_BUSY, STORE_UNAVAILABLE
   */
  async removeVolumes(names: string[], opts: Omit<BatchOptions<Volume>, 'force'> = {}): Promise<BatchResult<Volume>> {
    return this.#batch('removeVolumes', names, opts, (tx, ref) => volumes.removeVolumeByRef(tx, ref));
  }

  // ---------------------------------------------------------------- health and recovery

  /**
   * A health report for `berth doctor`: schema, the database's integrity check, dangling
   * references, boot ids and stale locks. Changes nothing; what cannot be read is a finding.
   * @throws STORE_UNAVAILABLE, STORE_CLOSED
   */
  async diagnose(): Promise<DiagnosisReport> {
    this.#assertOutsideTransaction('diagnose');
    const storage = await this.#core.ctx.exec.inspect();
    const problems: string[] = [];
    const health = await this.#read((tx) => maintenance.engineHealth(tx, problems)).catch((err: unknown) => {
      problems.push((err as Error).message);
      return { bootId: { current: this.#core.ctx.bootId, recorded: null }, locks: 0, staleLocks: [] };
    });
    if (problems.length > 0) storage.integrity = [...storage.integrity.filter((i) => i !== 'ok'), ...problems];
    return { backend: this.backend, location: this.location, ...storage, ...health };
  }

  /**
   * A consistent copy of the store in a new file (0600), taken online while writers go
   * on. SQLite only (PostgreSQL: use pg_dump).
   * @throws INVALID_ARGUMENT (file exists, or not SQLite), STORE_UNAVAILABLE (the target
   *   cannot be written: full, read-only, below a file)
   */
  async backup(file: string): Promise<{ file: string; bytes: number }> {
    this.#assertOutsideTransaction('backup');
    this.#assertOpen();
    const exec = this.#core.ctx.exec;
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
   * @throws INVALID_ARGUMENT (not SQLite), STORE_UNAVAILABLE
   */
  async replaceContents(file: string, restoredFrom: string): Promise<void> {
    this.#assertOutsideTransaction('replaceContents');
    this.#assertOpen();
    const exec = this.#core.ctx.exec;
    if (!exec.replaceContents) {
      throw new BerthError('INVALID_ARGUMENT', `${this.backend} stores are restored with their own tools (pg_restore)`);
    }
    const before = await this.events.lastSeq();
    await exec.replaceContents(file);
    await this.#write((tx) => maintenance.recordRestore(tx, before, restoredFrom));
  }

  /**
   * Fixes what can be fixed safely, in one transaction: removes link rows whose
   * container, dependency or volume is gone, and stale locks (each with an event). Take a
   * backup first (berth doctor --repair does).
   * @throws STORE_BUSY, STORE_UNAVAILABLE
   */
  async repair(): Promise<RepairReport> {
    this.#assertOutsideTransaction('repair');
    return this.#write((tx) => maintenance.repair(tx));
  }

  // ---------------------------------------------------------------- plan and apply

  /**
   * Compares a manifest with the store and the workspace's last apply; reads only (a
   * first secret creates the workspace's data key). The stack's namespace is the
   * manifest's, else the handle's.
   * @throws EMPTY_ID, INVALID_NAME, NO_SUCH_WORKSPACE, NAMESPACE_MISMATCH, INVALID_ARGUMENT,
   *   SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH
   */
  async plan(workspace: string, manifest: Manifest | null, opts: PlanOptions = {}): Promise<Plan> {
    this.#assertOutsideTransaction('plan');
    const scoped = this.withNamespace(manifest?.namespace ?? this.#ns);
    // Loaded on first use: commands that never plan do not pay for it at start-up.
    const { makePlan } = await import('./plan/planner.js');
    return makePlan(scoped, workspace, opts.mode === 'apply' || opts.mode === undefined ? manifest : null, opts);
  }

  /**
   * Applies a plan under the workspace lock, all in one transaction.
   * @throws PLAN_INVALID, PLAN_STALE, PLAN_ALREADY_APPLIED, LOCKED, INVALID_ARGUMENT, and
   *   any object error (then nothing was changed)
   */
  async apply(plan: Plan, opts: ApplyOptions = {}): Promise<ApplyResult> {
    this.#assertOutsideTransaction('apply');
    const { applyPlan } = await import('./plan/applier.js');
    return applyPlan(this, plan, opts);
  }
}

/** Runs operations as the handle `store` (its namespace, its transaction if any). */
function run(core: Core, store: Store) {
  const ns = store.namespace;
  return {
    one: <T>(op: (tx: Tx) => T | Promise<T>): Promise<T> => core.runner.one(ns, op),
    read: <T>(op: (tx: Tx) => Promise<T>): Promise<T> => core.runner.read(ns, op),
    write: <T>(op: (tx: Tx) => Promise<T>, opts?: { durable?: boolean }): Promise<T> => core.runner.write(ns, op, opts),
  };
}

/** How a lock wait polls a held lock: a plain read (none inside a transaction, which does not wait). */
function lockProbe(core: Core, store: Store, key: string, opts: AcquireOptions): (() => Promise<boolean>) | undefined {
  if (core.runner.inTransaction) return undefined;
  return () => run(core, store).one((tx) => locks.lockLooksFree(tx, key, opts));
}

/** The handle's lock wait: none inside a transaction (which holds the store's write lock). */
function lockTimeout(core: Core, timeoutMs: number | undefined): number | undefined {
  return core.runner.inTransaction ? 0 : timeoutMs;
}

/** Named stack states of a handle's namespace (DESIGN.md §4), as `store.workspaces`. */
export class Workspaces {
  readonly #store: Store;
  readonly #core: Core;
  /** Set once this handle has seen its namespace's default workspace (it cannot be deleted). */
  #defaultExists = false;

  static {
    makeWorkspaces = (store, core) => new Workspaces(store, core);
  }

  private constructor(store: Store, core: Core) {
    this.#store = store;
    this.#core = core;
  }

  /** Creates the namespace's default workspace the first time it is needed (not on a read-only handle). */
  async #ensureDefault(name: string): Promise<void> {
    if (name !== DEFAULT_WORKSPACE || this.#core.ctx.readonly || this.#defaultExists) return;
    if (!(await run(this.#core, this.#store).one((tx) => ws.hasWorkspace(tx, DEFAULT_WORKSPACE)))) {
      await run(this.#core, this.#store).write((tx) => ws.ensureWorkspace(tx, DEFAULT_WORKSPACE));
    }
    this.#defaultExists = true;
  }

  /**
   * Every workspace of the handle's namespace, `default` included, by name.
   * @throws only the store's faults (STORE_CLOSED, STORE_BUSY, STORE_UNAVAILABLE)
   */
  async list(): Promise<WorkspaceInfo[]> {
    await this.#ensureDefault(DEFAULT_WORKSPACE);
    return run(this.#core, this.#store).read((tx) => ws.listWorkspaces(tx));
  }

  /**
   * Creates a workspace with a fresh lineage and serial 0.
   * @throws EMPTY_ID, INVALID_NAME, WORKSPACE_EXISTS
   */
  async create(name: string): Promise<WorkspaceInfo> {
    ws.assertWorkspaceName(name);
    await this.#ensureDefault(DEFAULT_WORKSPACE);
    return run(this.#core, this.#store).write((tx) => ws.createWorkspace(tx, name));
  }

  /**
   * One workspace.
   * @throws EMPTY_ID, INVALID_NAME, NO_SUCH_WORKSPACE
   */
  async get(name: string): Promise<WorkspaceInfo> {
    ws.assertWorkspaceName(name);
    await this.#ensureDefault(name);
    return run(this.#core, this.#store).read((tx) => ws.getWorkspaceInfo(tx, name));
  }

  /**
   * Deletes a workspace with its history. Refuses `default`, a locked workspace (even
   * with force), and a non-empty one without `force`.
   * @throws EMPTY_ID, INVALID_NAME, DEFAULT_WORKSPACE, NO_SUCH_WORKSPACE, LOCKED, WORKSPACE_NOT_EMPTY
   */
  async delete(name: string, opts: { force?: boolean } = {}): Promise<void> {
    ws.assertWorkspaceName(name);
    await run(this.#core, this.#store).write((tx) => ws.deleteWorkspace(tx, name, opts?.force === true));
  }

  /**
   * The current state document. Its secrets come encrypted (`{ "$encrypted": … }`) unless
   * `showSecrets` asks for them decrypted (`{ "$secret": value }`).
   * @throws EMPTY_ID, INVALID_NAME, NO_SUCH_WORKSPACE; with showSecrets
   *   SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
   */
  async readState(name: string, opts: ReadStateOptions = {}): Promise<WorkspaceState> {
    ws.assertWorkspaceName(name);
    await this.#ensureDefault(name);
    const runner = run(this.#core, this.#store);
    // Without secrets to reveal it is one statement, which needs no transaction of its own.
    if ((opts ?? {}).showSecrets !== true) return runner.one((tx) => state.readState(tx, name, {}));
    return runner.read((tx) => state.readState(tx, name, opts));
  }

  /**
   * Writes a new version (serial + 1) and keeps it in history; `{ "$secret": v }` values
   * are stored encrypted. Changes nothing on failure.
   * @throws EMPTY_ID, INVALID_NAME, NO_SUCH_WORKSPACE, LOCKED, LOCK_LOST, STALE_SERIAL,
   *   LINEAGE_MISMATCH, INVALID_ARGUMENT, SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
   */
  async writeState(name: string, doc: unknown, opts: WriteStateOptions = {}): Promise<WorkspaceState> {
    ws.assertWorkspaceName(name);
    state.assertWriteOptions(opts);
    const encoded = state.encodeState(doc);
    await this.#ensureDefault(name);
    return run(this.#core, this.#store).write((tx) => state.writeState(tx, name, encoded, opts));
  }

  /**
   * The workspace's versions, newest first.
   * @throws EMPTY_ID, INVALID_NAME, NO_SUCH_WORKSPACE, INVALID_ARGUMENT
   */
  async history(name: string, opts: { limit?: number } = {}): Promise<StateVersion[]> {
    ws.assertWorkspaceName(name);
    const limit = (opts ?? {}).limit ?? state.MAX_INT32;
    if (!Number.isInteger(limit) || limit < 1 || limit > state.MAX_INT32) {
      throw new BerthError('INVALID_ARGUMENT', 'history limit must be a positive integer', { details: { limit } });
    }
    await this.#ensureDefault(name);
    return run(this.#core, this.#store).read((tx) => state.history(tx, name, limit));
  }

  /**
   * Writes the state of an earlier serial as a new serial (history is never rewritten).
   * A Terraform state file gets a Terraform `serial` above the current one's, so that a
   * client holding the state rolled back from is refused instead of undoing the rollback.
   * @throws EMPTY_ID, INVALID_NAME, NO_SUCH_WORKSPACE, INVALID_ARGUMENT (unknown serial), LOCKED, LOCK_LOST
   */
  async rollback(name: string, serial: number, opts: { lockId?: string } = {}): Promise<WorkspaceState> {
    ws.assertWorkspaceName(name);
    if (!Number.isInteger(serial) || serial < 1 || serial > state.MAX_INT32) {
      throw new BerthError('INVALID_ARGUMENT', `serial ${String(serial)} is not a serial of workspace ${name}`, {
        details: { serial },
      });
    }
    if (opts.lockId !== undefined) assertNonEmpty(opts.lockId, 'lock id');
    return run(this.#core, this.#store).write((tx) => state.rollback(tx, name, serial, opts.lockId));
  }

  /**
   * The workspace's state as a versioned, checksummed envelope. Secrets stay encrypted,
   * with their data keys wrapped beside them, unless `showSecrets` decrypts them.
   * @throws EMPTY_ID, INVALID_NAME, NO_SUCH_WORKSPACE; with showSecrets SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH
   */
  async exportState(name: string, opts: ReadStateOptions = {}): Promise<StateExport> {
    ws.assertWorkspaceName(name);
    await this.#ensureDefault(name);
    return run(this.#core, this.#store).read((tx) => state.exportState(tx, name, opts ?? {}));
  }

  /**
   * Imports an exported envelope. Into a never-written workspace it is taken as is;
   * otherwise another lineage or a serial not above the current one needs `force`.
   * The new serial is max(imported, current + 1). Changes nothing on failure.
   * @throws EMPTY_ID, INVALID_NAME, INVALID_IMPORT, LINEAGE_MISMATCH, STALE_SERIAL,
   *   NO_SUCH_WORKSPACE, LOCKED, LOCK_LOST, SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
   */
  async importState(
    name: string,
    envelope: StateExport,
    opts: { force?: boolean; lockId?: string } = {},
  ): Promise<WorkspaceState> {
    ws.assertWorkspaceName(name);
    if (opts.lockId !== undefined) assertNonEmpty(opts.lockId, 'lock id');
    const imported = await state.checkEnvelope(envelope);
    await this.#ensureDefault(name);
    return run(this.#core, this.#store).write((tx) => state.importState(tx, name, imported, opts));
  }

  /**
   * Locks a workspace (Terraform's state lock); `id` chooses the lock's id, `create` makes
   * a missing workspace first.
   * @throws EMPTY_ID, INVALID_NAME, NO_SUCH_WORKSPACE, LOCKED (details.lock: the holder), INVALID_ARGUMENT
   */
  async lock(name: string, opts: WorkspaceLockOptions): Promise<LockInfo> {
    ws.assertWorkspaceName(name);
    locks.assertAcquireOptions(opts);
    const create = opts.create === true;
    await this.#ensureDefault(name);
    const key = ws.workspaceLockKey(this.#store.namespace, name);
    return locks.withLockWait(
      lockTimeout(this.#core, opts.timeoutMs),
      () => run(this.#core, this.#store).write((tx) => ws.lockWorkspace(tx, name, opts, create), LOCK_COMMIT),
      lockProbe(this.#core, this.#store, key, opts),
    );
  }

  /**
   * Releases the workspace lock held with `lockId`.
   * @throws EMPTY_ID, INVALID_NAME, NOT_LOCKED, LOCK_ID_MISMATCH
   */
  async unlock(name: string, lockId: string): Promise<void> {
    ws.assertWorkspaceName(name);
    await this.#store.locks.release(ws.workspaceLockKey(this.#store.namespace, name), lockId);
  }

  /**
   * Breaks the workspace lock, given its exact id; returns the removed lock. `by` names
   * who broke it in the `lock.force_unlock` event.
   * @throws EMPTY_ID, INVALID_NAME, NOT_LOCKED, LOCK_ID_MISMATCH
   */
  async forceUnlock(name: string, lockId: string, opts: ForceUnlockOptions = {}): Promise<LockInfo> {
    ws.assertWorkspaceName(name);
    return this.#store.locks.forceUnlock(ws.workspaceLockKey(this.#store.namespace, name), lockId, opts);
  }

  /**
   * The workspace's Terraform (or OpenTofu) state file, as Terraform's http backend reads
   * it (`json` null when there is none). One berth keeps sealed with the secrets key comes
   * decrypted only with `showSecrets`; without, `json` is null and `sealed` true.
   * @throws EMPTY_ID, INVALID_NAME, NO_SUCH_WORKSPACE, LINEAGE_MISMATCH (the workspace
   *   holds a state that is not Terraform's); with showSecrets SECRETS_KEY_MISSING,
   *   SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
   */
  async readTerraformState(name: string, opts: ReadStateOptions = {}): Promise<TerraformStateFile> {
    ws.assertWorkspaceName(name);
    await this.#ensureDefault(name);
    return run(this.#core, this.#store).read((tx) => terraform.readTerraformState(tx, name, opts ?? {}));
  }

  /**
   * Writes a Terraform (or OpenTofu) state file, given as the JSON text the client sent,
   * as a new version, with Terraform's own compare-and-set made here: a state of another
   * lineage, of a lower serial, or of the same serial with other content is refused.
   * OpenTofu's encrypted state is stored as given. With a secrets key set, all but the
   * file's version, lineage and serial is stored encrypted. `null` empties the state.
   * Sending the stored state again writes nothing. Changes nothing on failure.
   * @throws EMPTY_ID, INVALID_NAME, INVALID_ARGUMENT (not a state file), NO_SUCH_WORKSPACE,
   *   LOCKED, LOCK_LOST, LINEAGE_MISMATCH, STALE_SERIAL, SECRETS_KEY_MISSING,
   *   SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
   */
  async writeTerraformState(
    name: string,
    json: string | null,
    opts: WriteTerraformStateOptions = {},
  ): Promise<WorkspaceState> {
    ws.assertWorkspaceName(name);
    state.assertWriteOptions(opts);
    if (json !== null && typeof json !== 'string') {
      throw new BerthError('INVALID_ARGUMENT', 'a Terraform state is written as its JSON text (or null to empty it)');
    }
    const upload = json === null ? null : terraform.parseTerraformState(json, this.#core.ctx.secrets.key !== undefined);
    await this.#ensureDefault(name);
    return run(this.#core, this.#store).write((tx) => terraform.writeTerraformState(tx, name, upload, opts));
  }

  /**
   * The containers, pods and volumes the workspace manages (its `berth.workspace`
   * label), oldest first.
   * @throws EMPTY_ID, INVALID_NAME
   */
  async managed(name: string): Promise<{ containers: Container[]; pods: Pod[]; volumes: Volume[] }> {
    ws.assertWorkspaceName(name);
    const rows = await run(this.#core, this.#store).read((tx) => ws.managedObjects(tx, name));
    return {
      containers: rows.containers.map(toContainer),
      pods: rows.pods.map(toPod),
      volumes: rows.volumes.map(toVolume),
    };
  }
}

/** Locks by key, store-wide (DESIGN.md §5), as `store.locks`. */
export class Locks {
  readonly #store: Store;
  readonly #core: Core;

  static {
    makeLocks = (store, core) => new Locks(store, core);
  }

  private constructor(store: Store, core: Core) {
    this.#store = store;
    this.#core = core;
  }

  /**
   * Acquires the lock `key`, waiting up to `timeoutMs` for its holder.
   * @throws EMPTY_ID, INVALID_ARGUMENT, LOCKED (details.lock: the holder)
   */
  async acquire(key: string, opts: AcquireOptions): Promise<LockInfo> {
    assertNonEmpty(key, 'lock key');
    locks.assertAcquireOptions(opts);
    return locks.withLockWait(
      lockTimeout(this.#core, opts.timeoutMs),
      () => run(this.#core, this.#store).write((tx) => locks.acquire(tx, key, opts), LOCK_COMMIT),
      lockProbe(this.#core, this.#store, key, opts),
    );
  }

  /**
   * Releases a lock held with `lockId`.
   * @throws EMPTY_ID, NOT_LOCKED, LOCK_ID_MISMATCH
   */
  async release(key: string, lockId: string): Promise<void> {
    assertNonEmpty(key, 'lock key');
    assertNonEmpty(lockId, 'lock id');
    await run(this.#core, this.#store).write((tx) => locks.release(tx, key, lockId), LOCK_COMMIT);
  }

  /**
   * Renews a lease (never shortening it); proves the caller still holds the lock.
   * @throws EMPTY_ID, LOCK_LOST
   */
  async heartbeat(key: string, lockId: string): Promise<LockInfo> {
    assertNonEmpty(key, 'lock key');
    assertNonEmpty(lockId, 'lock id');
    return run(this.#core, this.#store).write((tx) => locks.heartbeat(tx, key, lockId), LOCK_COMMIT);
  }

  /**
   * Removes the lock `key` whatever its holder, given its exact id, and records who
   * broke whose lock. Returns the removed lock.
   * @throws EMPTY_ID, NOT_LOCKED, LOCK_ID_MISMATCH
   */
  async forceUnlock(key: string, lockId: string, opts: ForceUnlockOptions = {}): Promise<LockInfo> {
    assertNonEmpty(key, 'lock key');
    assertNonEmpty(lockId, 'lock id');
    return run(this.#core, this.#store).write((tx) => locks.forceUnlock(tx, key, lockId, opts?.by));
  }

  /**
   * The lock on `key`, if any, stale or not as of now.
   * @throws EMPTY_ID
   */
  async get(key: string): Promise<LockInfo | undefined> {
    assertNonEmpty(key, 'lock key');
    return run(this.#core, this.#store).read((tx) => locks.getLock(tx, key));
  }

  /**
   * Every held lock, stale ones marked.
   * @throws only the store's faults (STORE_CLOSED, STORE_BUSY, STORE_UNAVAILABLE)
   */
  async list(): Promise<LockInfo[]> {
    return run(this.#core, this.#store).read((tx) => locks.listLocks(tx));
  }
}

/** Faults a follower waits out: the store is unreachable or busy for now. */
function isPassingFault(err: unknown): err is BerthError {
  return err instanceof BerthError && (err.code === 'STORE_UNAVAILABLE' || err.code === 'STORE_BUSY');
}

/** A follower's wait before its `failures`-th retry: doubling from the poll interval to 5 s, with jitter. */
function followBackoff(failures: number, pollMs: number): number {
  const ceiling = Math.min(5_000, Math.max(50, pollMs) * 2 ** (failures - 1));
  return Math.round(ceiling * (0.5 + Math.random() / 2));
}

/** Every this many committed writes, the journal is pruned to its retention in the background. */
const PRUNE_EVERY = 512;

/** The event journal (DESIGN.md §6), as `store.events`. */
export class Events {
  readonly #store: Store;
  readonly #core: Core;

  static {
    makeEvents = (store, core) => new Events(store, core);
  }

  private constructor(store: Store, core: Core) {
    this.#store = store;
    this.#core = core;
  }

  /**
   * Events in commit order, of the handle's namespace ('' sees all).
   * @throws INVALID_ARGUMENT
   */
  async list(options: ListEventsOptions = {}): Promise<BerthEvent[]> {
    const opts = checkListOptions(options);
    const until = opts.until;
    return listEvents((since) => run(this.#core, this.#store).one((tx) => eventPage(tx, since, until)), opts);
  }

  /**
   * The seq of the newest event (0 when there is none).
   * @throws only the store's faults (STORE_CLOSED, STORE_BUSY, STORE_UNAVAILABLE)
   */
  async lastSeq(): Promise<number> {
    return run(this.#core, this.#store).read((tx) => lastSeq(tx));
  }

  /**
   * Follows the journal from `since` on (default: from now), including writes by other
   * processes, until `signal` aborts. A slow reader never holds up a writer.
   *
   * While the store cannot be reached or is busy (STORE_UNAVAILABLE, STORE_BUSY: a
   * restarted or unreachable PostgreSQL server), a follower waits and tries again, with a
   * backoff growing to 5 s, until `signal` aborts, then goes on after the last event it
   * yielded: nothing is skipped or repeated. `onRetry` hears of each failed attempt
   * (`attempt` starts at 1 for each outage); `retry: false` throws the error instead.
   * @throws INVALID_ARGUMENT; with `retry: false`, STORE_UNAVAILABLE and STORE_BUSY
   */
  async *follow(
    opts: {
      since?: number;
      signal?: AbortSignal;
      pollMs?: number;
      types?: string[];
      retry?: boolean;
      onRetry?: (error: BerthError, attempt: number, delayMs: number) => void;
    } = {},
  ): AsyncIterable<BerthEvent> {
    if (this.#core.runner.inTransaction) throw notInTransaction('events.follow');
    assertSeq(opts.since, 'since');
    const pollMs = opts.pollMs ?? 100;
    const exec = this.#core.ctx.exec;
    let since = opts.since;
    let failures = 0;
    while (!opts.signal?.aborted && !this.#core.ctx.life.closed) {
      let batch: BerthEvent[];
      let seen: number | undefined;
      try {
        seen = exec.notificationsSeen?.();
        since ??= await this.lastSeq();
        batch = await this.list({ since, limit: EVENT_PAGE, ...(opts.types ? { types: opts.types } : {}) });
        failures = 0;
      } catch (err) {
        if (this.#core.ctx.life.closed || opts.retry === false || !isPassingFault(err)) throw err;
        failures++;
        const delay = followBackoff(failures, pollMs);
        opts.onRetry?.(err, failures, delay);
        await sleep(delay, opts.signal);
        continue;
      }
      for (const event of batch) {
        if (opts.signal?.aborted) return;
        yield event;
        since = event.seq;
      }
      if (batch.length === 0) {
        await (exec.waitForEvents ? exec.waitForEvents(pollMs * 10, opts.signal, seen) : sleep(pollMs, opts.signal));
      }
    }
  }

  /**
   * The first seq at or after a time (ms since the epoch), or undefined when none is.
   * @throws only the store's faults (STORE_CLOSED, STORE_BUSY, STORE_UNAVAILABLE)
   */
  async firstSeqAt(ts: number): Promise<number | undefined> {
    return run(this.#core, this.#store).one((tx) => firstSeqAt(tx, ts));
  }

  /**
   * The newest seq retention has dropped: a reader resuming at or after it misses
   * nothing; one resuming before it must re-read a snapshot first.
   * @throws only the store's faults (STORE_CLOSED, STORE_BUSY, STORE_UNAVAILABLE)
   */
  async prunedThrough(): Promise<number> {
    return run(this.#core, this.#store).one((tx) => prunedThrough(tx));
  }

  /**
   * Drops events beyond the retention, in batches of short transactions so writers wait
   * at most one batch. Returns how many it dropped.
   * @throws INVALID_ARGUMENT (inside a transaction)
   */
  async prune(): Promise<number> {
    if (this.#core.runner.inTransaction) throw notInTransaction('events.prune');
    let dropped = 0;
    for (;;) {
      const n = await run(this.#core, this.#store).write((tx) => pruneBatch(tx));
      dropped += n;
      if (n === 0) return dropped;
      // Let queued writers in between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Appends an event for a higher layer (plan/apply); its type is `<kind>.<verb>`.
   * @throws INVALID_ARGUMENT
   */
  async append(event: NewEvent): Promise<void> {
    checkNewEvent(event);
    await run(this.#core, this.#store).write((tx) => appendEvent(tx, event));
  }
}

/** The callback openStore installs: prunes the journal every PRUNE_EVERY writes, in the background. */
function journalPruner(store: Store): () => void {
  let writes = 0;
  let running = false;
  return () => {
    if (++writes % PRUNE_EVERY !== 0 || running) return;
    running = true;
    setImmediate(() => {
      store.events
        .prune()
        .catch(() => undefined) // Pruning is housekeeping: the next round retries.
        .finally(() => {
          running = false;
        });
    });
  };
}

/** Secret values (README "Secrets"), as `store.secrets`. */
export class Secrets {
  readonly #store: Store;
  readonly #core: Core;

  static {
    makeSecrets = (store, core) => new Secrets(store, core);
  }

  private constructor(store: Store, core: Core) {
    this.#store = store;
    this.#core = core;
  }

  /**
   * Whether a key is configured, and which keys the store's data keys need; works
   * without a key.
   * @throws only the store's faults (STORE_CLOSED, STORE_BUSY, STORE_UNAVAILABLE)
   */
  async status(): Promise<SecretsStatus> {
    return run(this.#core, this.#store).read((tx) => secretsStatus(tx));
  }

  /**
   * A copy of `value` with its secrets decrypted: `{ "$encrypted": … }` nodes of a state
   * document become `{ "$secret": value }` again, and encrypted strings (a container's
   * env from a manifest) become their plain text.
   * @throws INVALID_ARGUMENT, SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH, SECRET_UNREADABLE
   */
  async reveal<T>(value: T): Promise<T> {
    if (value === null || value === undefined || !mayHoldSecrets(toJson(value, 'the value to reveal'))) return value;
    return run(this.#core, this.#store).read((tx) => reveal(tx, value, { bare: true })) as Promise<T>;
  }

  /**
   * Re-wraps every data key with a new secrets key, in one transaction; this store uses
   * the new key afterwards. Secret values are not re-encrypted (their data keys stay).
   * Changes nothing unless the current key opens every data key.
   * @throws SECRETS_KEY_INVALID, SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH
   */
  async rotateKey(newKey: string | Buffer): Promise<{ rewrapped: number; fingerprint: string }> {
    const next = parseNewKey(newKey);
    const rewrapped = await run(this.#core, this.#store).write((tx) => rotateKey(tx, next));
    this.#core.ctx.secrets.key = next;
    return { rewrapped, fingerprint: next.fingerprint };
  }

  /**
   * Encrypts values for workspace `name` of the handle's namespace (a plan's secret env
   * values); creates the workspace's data key if it has none yet. Given the value a
   * container holds now, an equal value keeps that text (see README "Secrets").
   * @throws SECRETS_KEY_MISSING, SECRETS_KEY_MISMATCH
   */
  async sealer(name: string): Promise<(value: unknown, stored?: string) => string> {
    const what = `the manifest for workspace ${name}`;
    const ns = this.#store.namespace;
    const dk =
      (await run(this.#core, this.#store).read((tx) => currentDataKey(tx, ns, name, what))) ??
      (await run(this.#core, this.#store).write((tx) => dataKeyFor(tx, ns, name, what)));
    return envSealer(dk);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Builds the facade of an opened store (openStore's last step).
 * @internal
 */
export function openedStore(ctx: EngineContext, migration: MigrationReport, namespace: string): Store {
  const store = makeStore({ ctx, runner: new StoreRunner(ctx), migration }, namespace);
  ctx.afterWrite ??= journalPruner(store);
  return store;
}
