export { openStore, copyStoreTo, restoreStore, type OpenStoreOptions } from './open-store.js';
export type { CopyReport } from './db/copy-store.js';
export { Store } from './engine/store.js';
export { BerthStore } from './berth-store.js';
export { loadManifest, type Manifest, type ManifestProblem, type EnvValue } from './plan/manifest.js';
export type { Plan, PlanChange, PlanOptions, PlanMode, DriftEntry, StackState } from './plan/planner.js';
export type { ApplyOptions, ApplyResult } from './plan/applier.js';
export { BerthError, isBerthError, ErrorCode, type BerthErrorOptions } from './errors.js';
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
  Pod,
  PodConfig,
  PodState,
  Volume,
  VolumeConfig,
  VolumeState,
} from './engine/types.js';
export type { LockInfo, AcquireOptions } from './engine/lock-store.js';
export type {
  WorkspaceInfo,
  WorkspaceState,
  StateVersion,
  StateExport,
  WriteStateOptions,
  ReadStateOptions,
} from './engine/workspace-store.js';
export { generateSecretsKey } from './engine/secrets.js';
export type { SecretsStatus, SecretsStore } from './engine/secret-store.js';
export type { Snapshot, DiagnosisReport, RepairReport } from './engine/store.js';
export type { ListEventsOptions } from './engine/event-store.js';
