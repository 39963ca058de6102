/*
 * berth's published surface (API.md): openStore and the Store it returns, the error type,
 * and the documented types of what goes in and comes out.
 */
export { openStore, copyStoreTo, restoreStore, type OpenStoreOptions } from './open-store.js';
export {
  Store,
  type Workspaces,
  type Locks,
  type Events,
  type Secrets,
  type Transaction,
  type BatchOptions,
  type BatchResult,
  type BatchItemResult,
} from './store.js';
export { BerthError, isBerthError, ErrorCode, type BerthErrorOptions } from './errors.js';
export { loadManifest } from './plan/manifest.js';
export type { Manifest, ManifestProblem, EnvValue } from './plan/types.js';
export type {
  Plan,
  PlanChange,
  PlanOptions,
  PlanMode,
  PlanStep,
  ChangeAction,
  BlockReason,
  DriftEntry,
  StackState,
  StackKind,
  StackSpec,
  ContainerSpecC,
  PodSpecC,
  VolumeSpecC,
  ApplyOptions,
  ApplyResult,
  ContainerSpec,
  PodSpec,
  VolumeSpec,
} from './plan/types.js';
export type { Backend, CopyReport, MigrationReport, StorageReport } from './db/backend.js';
export type {
  BerthEvent,
  Container,
  ContainerConfig,
  ContainerState,
  ContainerStatus,
  DBConfig,
  EventSubject,
  ExecSession,
  NamedVolume,
  NetworkOptions,
  NewContainer,
  NewContainerConfig,
  NewPod,
  NewPodConfig,
  NewVolume,
  Pod,
  PodConfig,
  PodState,
  Volume,
  VolumeConfig,
  VolumeState,
  LockInfo,
  AcquireOptions,
  WorkspaceInfo,
  WorkspaceState,
  StateVersion,
  StateExport,
  WriteStateOptions,
  ReadStateOptions,
  SecretsStatus,
  WrappedKeys,
  ListEventsOptions,
  NewEvent,
  Snapshot,
  DiagnosisReport,
  RepairReport,
} from './engine/types.js';

export { generateSecretsKey } from './engine/secrets/crypto.js';
