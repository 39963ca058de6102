import type { Backend, StorageReport } from '../db/backend.js';

/**
 * The domain objects berth stores (DESIGN.md §3). They are plain JSON-serialisable data;
 * fields the engine does not know are stored and returned unchanged.
 */

export const ContainerStatus = {
  configured: 'configured',
  created: 'created',
  running: 'running',
  paused: 'paused',
  stopping: 'stopping',
  stopped: 'stopped',
  exited: 'exited',
  removing: 'removing',
  unknown: 'unknown',
} as const;
export type ContainerStatus = (typeof ContainerStatus)[keyof typeof ContainerStatus];

/** Per-network options of a container's attachment (podman's PerNetworkOptions). */
export interface NetworkOptions {
  aliases?: string[];
  interfaceName?: string;
  staticIps?: string[];
  staticMac?: string;
  [extra: string]: unknown;
}

/** A named volume mounted into a container at `dest`. */
export interface NamedVolume {
  name: string;
  dest: string;
  [extra: string]: unknown;
}

/** The config of a container to add: berth fills in a missing `id`, `namespace` and `createdAt`. */
export interface NewContainerConfig {
  /** 64 lowercase hex characters when berth generates it. */
  id?: string;
  name: string;
  namespace?: string;
  pod?: string;
  image?: string;
  command?: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  dependencies?: string[];
  namedVolumes?: NamedVolume[];
  networks?: Record<string, NetworkOptions>;
  createdAt?: string;
  [extra: string]: unknown;
}

/** A container's config as stored: the id is always set. */
export interface ContainerConfig extends NewContainerConfig {
  id: string;
}

/** A container's runtime state; `saveContainer` writes it, `refresh` resets it after a reboot. */
export interface ContainerState {
  status: ContainerStatus | (string & {});
  pid?: number;
  exitCode?: number;
  startedAt?: string;
  finishedAt?: string;
  mounted?: boolean;
  mountpoint?: string;
  execSessions?: unknown;
  [extra: string]: unknown;
}

/** A stored container: its config and its runtime state (libpod's Container). */
export interface Container {
  config: ContainerConfig;
  state: ContainerState;
}

/** A container to add (`addContainer`, `addContainerToPod`); `state` defaults to `{ status: 'configured' }`. */
export interface NewContainer {
  config: NewContainerConfig;
  state?: ContainerState;
}

/** The config of a pod to add: berth fills in a missing `id`, `namespace` and `createdAt`. */
export interface NewPodConfig {
  id?: string;
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  createdAt?: string;
  [extra: string]: unknown;
}

/** A pod's config as stored: the id is always set. */
export interface PodConfig extends NewPodConfig {
  id: string;
}

/** A pod's runtime state; `savePod` writes it. */
export interface PodState {
  infraContainerId?: string;
  cgroupPath?: string;
  [extra: string]: unknown;
}

/** A stored pod: its config and its runtime state. */
export interface Pod {
  config: PodConfig;
  state: PodState;
}

/** A pod to add (`addPod`); `state` defaults to `{}`. */
export interface NewPod {
  config: NewPodConfig;
  state?: PodState;
}

/** A volume's config: its name is its identity (unique among volumes). */
export interface VolumeConfig {
  name: string;
  namespace?: string;
  driver?: string;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  createdAt?: string;
  [extra: string]: unknown;
}

/** A volume's runtime state; `saveVolume` writes it. */
export interface VolumeState {
  mountCount?: number;
  mountPoint?: string;
  [extra: string]: unknown;
}

/** A stored volume: its config and its runtime state. */
export interface Volume {
  config: VolumeConfig;
  state: VolumeState;
}

/** A volume to add (`addVolume`): berth fills in a missing `namespace` and `createdAt`; `state` defaults to `{}`. */
export interface NewVolume {
  config: VolumeConfig;
  state?: VolumeState;
}

/** A reference from an exec session to the container it runs in. */
export interface ExecSession {
  id: string;
  containerId: string;
}

/** Paths and drivers a runtime was first configured with (libpod's DBConfig). */
export interface DBConfig {
  os: string;
  staticDir: string;
  tmpDir: string;
  graphRoot: string;
  runRoot: string;
  graphDriver: string;
  volumePath: string;
}

export const DB_CONFIG_FIELDS = [
  'os',
  'staticDir',
  'tmpDir',
  'graphRoot',
  'runRoot',
  'graphDriver',
  'volumePath',
] as const satisfies readonly (keyof DBConfig)[];

/** Who and what an event is about. */
export interface EventSubject {
  kind: string;
  id?: string;
  name?: string;
}

/** One entry of the event journal (DESIGN.md §6). */
export interface BerthEvent {
  seq: number;
  ts: string;
  namespace: string;
  type: string;
  subject: EventSubject;
  actor: string;
  data: Record<string, unknown>;
}

/** A held lock, as `locks.get`/`list` and a LOCKED error's `details.lock` show it. */
export interface LockInfo {
  key: string;
  id: string;
  operation: string;
  who: string;
  info: string;
  version: string;
  createdAt: string;
  /** The holder's process on `host`; 0 when no process stands behind the lock. */
  pid: number;
  host: string;
  fencingToken: number;
  expiresAt?: string;
  /** Its lease expired, its holder's pid is dead on this host, or it predates this boot. */
  stale: boolean;
  /** Why it is stale, when it is. */
  staleReason?: string;
}

/** Options of an acquisition. */
export interface AcquireOptions {
  operation: string;
  info?: string;
  who?: string;
  /** Wait up to this long for the holder to release, with backoff (default 0: fail at once). */
  timeoutMs?: number;
  /** A lease: the lock goes stale unless renewed by `heartbeat` within this time. */
  ttlMs?: number;
  /** Break the current lock if, and only if, it is stale (recorded in an event). */
  breakStale?: boolean;
  /**
   * The process that holds the lock (default: this one). 0 ties it to no process — a
   * lock left held by a CLI command — so only its lease or a reboot can make it stale.
   */
  pid?: number;
  /**
   * The lock's id, chosen by the caller (e.g. the ID Terraform sends); default: a random
   * UUID. Taking a lock again with the id that holds it returns it unchanged.
   */
  id?: string;
  /**
   * The host the holder runs on (default: this one). A lock held for another machine —
   * `berth serve` gives a Terraform client's lock the client's address — is never stale by
   * this host's pid or reboot rules: only a lease (`ttlMs`) makes it stale.
   */
  host?: string;
  /** The holder's version, e.g. the Terraform version that took it (default: berth's). */
  version?: string;
}

/** Options of a workspace lock (`workspaces.lock`). */
export interface WorkspaceLockOptions extends AcquireOptions {
  /**
   * Create the workspace first when it does not exist (with its `workspace.create`
   * event), as Terraform's http backend expects of its first lock.
   */
  create?: boolean;
}

/** Options of a force-unlock. */
export interface ForceUnlockOptions {
  /** Who breaks the lock, recorded in the `lock.force_unlock` event (default: the store's actor). */
  by?: string;
}

/** The current state document of a workspace. */
export interface WorkspaceState {
  lineage: string;
  serial: number;
  state: unknown;
  checksum: string | null;
  updatedAt: string;
}

/** One entry of a workspace's history. */
export interface StateVersion {
  serial: number;
  lineage: string;
  checksum: string | null;
  createdAt: string;
  who: string;
  operation: string;
}

/** A workspace's state as exported (Pulumi's stack export), version 1. */
export interface StateExport {
  version: 1;
  kind: 'berth.workspace';
  namespace: string;
  workspace: string;
  lineage: string;
  serial: number;
  checksum: string | null;
  state: unknown;
  /**
   * The data keys the state's secrets are encrypted with, wrapped by the store's secrets
   * key, so that a store with the same key can import it (absent without secrets).
   */
  secretsKeys?: WrappedKeys;
}

/** Options of reading or exporting a state. */
export interface ReadStateOptions {
  /** Decrypt secrets (`{ "$secret": value }`) instead of returning them encrypted. */
  showSecrets?: boolean;
}

/** Options of a state write. */
export interface WriteStateOptions {
  /** The id of the workspace lock the caller holds; fenced: LOCK_LOST once it no longer holds. */
  lockId?: string;
  /** Compare-and-set: the serial the caller read. */
  expectedSerial?: number;
  /** Compare-and-set: the lineage the caller read. */
  lineage?: string;
  /** What the write is for, kept in history (default "write"). */
  operation?: string;
  /** Who writes, kept in history (default the store's actor). */
  who?: string;
}

/**
 * A workspace's Terraform (or OpenTofu) state file, as Terraform's http backend reads it
 * (`workspaces.readTerraformState`).
 */
export interface TerraformStateFile {
  /**
   * The state file's JSON: what the client wrote, with its keys sorted. Null when the
   * workspace holds no state, or when it is sealed and was read without `showSecrets`.
   */
  json: string | null;
  /** berth's serial of the workspace (not Terraform's own `serial` inside the file). */
  serial: number;
  /** berth keeps the state encrypted with the secrets key (it was written with a key configured). */
  sealed: boolean;
}

/** Options of `workspaces.writeTerraformState`. */
export interface WriteTerraformStateOptions {
  /**
   * The id of the workspace lock the client holds (Terraform's `?ID=`); fenced: LOCK_LOST
   * once it no longer holds. A write under a lock renews the lock's lease, if it has one.
   */
  lockId?: string;
  /** Create the workspace when it does not exist (Terraform's first write). */
  create?: boolean;
  /** Who writes, kept in history (default: the holder of `lockId`, else the store's actor). */
  who?: string;
  /** What the write is for, kept in history (default: the operation of `lockId`'s lock, else "write"). */
  operation?: string;
}

/** A workspace as `get` and `list` show it. */
export interface WorkspaceInfo {
  name: string;
  namespace: string;
  lineage: string;
  serial: number;
  createdAt: string;
  updatedAt: string;
  /** State null or {} and no object managed by the workspace. */
  isEmpty: boolean;
  /** How many containers, pods and volumes carry its `berth.workspace` label. */
  managed: { containers: number; pods: number; volumes: number };
  lock?: LockInfo;
}

/** What `secrets.status()` reports. */
export interface SecretsStatus {
  /** Whether this handle was given a secrets key. */
  keyConfigured: boolean;
  /** The given key's fingerprint. */
  fingerprint?: string;
  /** Data keys in the store (one per workspace that ever held a secret, more after a delete). */
  dataKeys: number;
  /** Fingerprints of the secrets keys the data keys are wrapped with (one, normally). */
  wrappedWith: string[];
  /** Whether the given key opens every data key (true when there are none). */
  opens: boolean;
}

/** Data keys an export carries (wrapped), by id, so another store with the same key can read it. */
export type WrappedKeys = Record<string, string>;

/** Options of `events.list`. */
export interface ListEventsOptions {
  /** Events after this seq (exclusive). */
  since?: number;
  /** Events up to this seq (inclusive). */
  until?: number;
  /**
   * Event types to keep: an exact type (`container.create`), a kind (`container`, the same
   * as `container.*`). Several are alternatives.
   */
  types?: string[];
  limit?: number;
}

/** An event about to be appended; seq and ts are given by the journal. */
export interface NewEvent {
  namespace: string;
  type: string;
  subject: EventSubject;
  data?: Record<string, unknown>;
}

/** The result of `store.snapshot()`. */
export interface Snapshot {
  seq: number;
  containers: Container[];
  pods: Pod[];
  volumes: Volume[];
  workspaces: Pick<WorkspaceInfo, 'name' | 'namespace' | 'lineage' | 'serial' | 'createdAt' | 'updatedAt'>[];
  locks: LockInfo[];
}

/** The result of `store.diagnose()`. */
export interface DiagnosisReport extends StorageReport {
  backend: Backend;
  location: string;
  bootId: { current: string; recorded: string | null };
  locks: number;
  staleLocks: LockInfo[];
}

/** What `store.repair()` removed. */
export interface RepairReport {
  dependencies: number;
  containerVolumes: number;
  execSessions: number;
  staleLocks: string[];
}

// ---------------------------------------------------------------- listings

/** podman's state word of a container, derived from berth's status (`configured` is `created`). */
export type PodmanState = 'created' | 'running' | 'paused' | 'stopping' | 'exited' | 'removing' | 'unknown';

/**
 * Filters of a container listing (podman's `ps --filter`). Values of one key are
 * alternatives (any may match), except `label` and `label!`, whose values must all hold;
 * different keys must all match.
 */
export interface ContainerFilters {
  /** Id prefixes. */
  id?: string[];
  /** Parts of the name (literal text, not a pattern). */
  name?: string[];
  /** `key` (the label is set) or `key=value`. */
  label?: string[];
  /** `key` (the label is not set) or `key=value` (not that value). */
  'label!'?: string[];
  /** podman's state words (`created`, `running`, `paused`, `stopping`, `exited`/`stopped`, `removing`, `unknown`) or berth's `configured`. */
  status?: string[];
  /** Image references: `nginx`, `nginx:1.27`, `docker.io/library/nginx`. */
  ancestor?: string[];
  /** Pods, by id, name or unique id prefix. */
  pod?: string[];
  /** Names of volumes the container mounts. */
  volume?: string[];
  namespace?: string[];
  /** Containers created before the one named (id, name or prefix). */
  before?: string[];
  /** Containers created after the one named. */
  since?: string[];
  /** Exit codes of exited containers. */
  exited?: (string | number)[];
}

/** Sort fields of a container listing (podman's `ps --sort`). */
export type ContainerSortKey = 'command' | 'created' | 'id' | 'image' | 'names' | 'runningfor' | 'status' | 'pod';

/** A container listing: which containers, in which order, how many. */
export interface ContainerQuery<F extends ContainerSummaryField = ContainerSummaryField> {
  /** Every container (default), or only running ones (`false`: podman's `ps` without `-a`). */
  all?: boolean;
  filters?: ContainerFilters;
  /** `created` (default) and `runningfor` list the newest first; the others ascend. */
  sort?: ContainerSortKey;
  /** At most this many, after sorting (podman's `--last N`). */
  limit?: number;
  /**
   * The summary fields wanted (the id always comes): the listing reads and builds only
   * those. All of them when absent.
   */
  fields?: readonly F[];
}

/** A field of a {@link ContainerSummary}. */
export type ContainerSummaryField = keyof ContainerSummary;

/** What a listing shows of a container: its narrow fields, never its documents. */
export interface ContainerSummary {
  id: string;
  name: string;
  namespace: string;
  pod: string | null;
  podName: string | null;
  image: string | null;
  command: string[];
  /** berth's status word (`configured`, `running`, …). */
  status: string;
  /** podman's state word for it. */
  state: PodmanState;
  exitCode: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  createdAt: string | null;
  labels: Record<string, string>;
  /** The named volumes it mounts. */
  mounts: { name: string; dest: string }[];
  /** The networks it is connected to, by name. */
  networks: string[];
}

/** Filters of a pod listing (podman's `pod ps --filter`). */
export interface PodFilters {
  id?: string[];
  name?: string[];
  label?: string[];
  /** `created`, `running`, `degraded`, `paused`, `exited`. */
  status?: string[];
  namespace?: string[];
}

/** A pod listing. */
export interface PodQuery {
  filters?: PodFilters;
}

/** What a listing shows of a pod. */
export interface PodSummary {
  id: string;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  createdAt: string | null;
  /** podman's pod status: `Created`, `Running`, `Degraded`, `Paused` or `Exited`. */
  status: 'Created' | 'Running' | 'Degraded' | 'Paused' | 'Exited';
  /** Its containers' ids, oldest first. */
  containers: string[];
  infraContainerId: string | null;
}

/** Filters of a volume listing (podman's `volume ls --filter`). */
export interface VolumeFilters {
  name?: string[];
  label?: string[];
  driver?: string[];
  namespace?: string[];
  /** `true`: only volumes no container uses; `false`: only used ones. */
  dangling?: string[];
}

/** A volume listing. */
export interface VolumeQuery {
  filters?: VolumeFilters;
}

/** What a listing shows of a volume. */
export interface VolumeSummary {
  name: string;
  namespace: string;
  driver: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  createdAt: string | null;
  mountPoint: string | null;
  /** How many containers use it. */
  users: number;
}

/** A name a plan wants (`store.namesHeldElsewhere`), and the object of another namespace that holds it. */
export interface ForeignName {
  kind: 'container' | 'pod' | 'volume';
  name: string;
  holder: { kind: 'container' | 'pod' | 'volume'; id: string; namespace: string };
}
