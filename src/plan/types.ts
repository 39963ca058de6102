/* The documented types of plan and apply (API.md "Plan and apply"): what manifests, plans and applies look like. */

/** An env value: plain text, or `{ secret: text }` to store it encrypted. */
export type EnvValue = string | { secret: string };

/** A container as a manifest declares it. */
export interface ContainerSpec {
  image?: string;
  command?: string[];
  env?: Record<string, EnvValue>;
  labels?: Record<string, string>;
  dependsOn?: string[];
  /** `NAME:DEST` of declared volumes. */
  volumes?: string[];
  networks?: Record<string, { aliases?: string[]; interfaceName?: string; staticIps?: string[]; staticMac?: string }>;
}

/** A pod as a manifest declares it, with its containers by name. */
export interface PodSpec {
  labels?: Record<string, string>;
  containers: Record<string, ContainerSpec>;
}

/** A volume as a manifest declares it. */
export interface VolumeSpec {
  driver?: string;
  labels?: Record<string, string>;
  options?: Record<string, string>;
}

/** A parsed, checked manifest (DESIGN.md §7): one workspace's volumes, pods and containers. */
export interface Manifest {
  version: 1;
  namespace?: string;
  volumes: Record<string, VolumeSpec>;
  pods: Record<string, PodSpec>;
  containers: Record<string, ContainerSpec>;
  /** The file it was read from, or `<text>`. */
  source: string;
}

/** One problem found in a manifest, with where it is. */
export interface ManifestProblem {
  message: string;
  path: string;
  line: number;
  column: number;
  key?: string;
}

/** The kinds of object a stack manages. */
export type StackKind = 'volume' | 'pod' | 'container';

/** A volume's canonical spec, as plans compare and digest it. */
export interface VolumeSpecC {
  driver: string | null;
  labels: Record<string, string>;
  options: Record<string, string>;
}

/** A pod's canonical spec, as plans compare and digest it. */
export interface PodSpecC {
  labels: Record<string, string>;
}

/**
 * A container's canonical spec, as plans compare and digest it: pod and dependencies by
 * name, secret env values as ciphertext.
 */
export interface ContainerSpecC {
  pod: string | null;
  image: string | null;
  command: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  dependsOn: string[];
  volumes: { name: string; dest: string }[];
  networks: Record<string, Record<string, unknown>>;
}

/** The canonical spec of any stack object. */
export type StackSpec = VolumeSpecC | PodSpecC | ContainerSpecC;

/** What a plan is for: reach the manifest, remove everything, or adopt drift only. */
export type PlanMode = 'apply' | 'destroy' | 'refresh-only';

/** What a plan does to one object. */
export type ChangeAction = 'create' | 'update' | 'replace' | 'delete' | 'noop';

/** Why a change is blocked (and becomes a noop). */
export type BlockReason = 'name_conflict' | 'untrusted_manifest' | 'too_many_orphans';

/** One object's change in a plan: what was requested and what will happen. */
export interface PlanChange {
  key: string;
  kind: StackKind;
  name: string;
  /** What the manifest asks for. */
  requested: ChangeAction;
  /** What apply will do: the requested action, or noop when blocked. */
  effective: ChangeAction;
  blocked?: { reason: BlockReason; message: string; owner?: { kind: StackKind; id: string } };
  /** Fields that differ between the store and the manifest. */
  fields: string[];
  /** The changed fields that force a replace (the store cannot rewrite them in place). */
  replaceFields: string[];
  /** Replaced because a container it depends on is replaced or removed. */
  cascadeFrom?: string;
  /**
   * The name the object has in the store now, when it was renamed outside the manifest
   * (`berth container rename`): apply renames it back, keeping its id.
   */
  renamedFrom?: string;
  /** Deletes or replaces a volume: its data is lost (apply needs allowDestroy). */
  destructive: boolean;
  orphan: boolean;
  before: { id: string; digest: string; spec: StackSpec } | null;
  after: { digest: string; spec: StackSpec } | null;
}

/** A managed object changed out of band since the last apply. */
export interface DriftEntry {
  key: string;
  fields: string[];
  missing: boolean;
  /** The object's name in the store now, when it was renamed (same id) since the last apply. */
  renamedTo?: string;
}

/** One step of an apply, in dependency order. */
export interface PlanStep {
  op: 'create' | 'update' | 'delete';
  key: string;
}

/** A plan (`plan/v1`): stable JSON, deterministic digest, and the basis it was made against. */
export interface Plan {
  format: 'plan/v1';
  workspace: string;
  namespace: string;
  mode: PlanMode;
  prune: boolean;
  basis: { lineage: string; serial: number };
  manifestDigest: string | null;
  changes: PlanChange[];
  drift: DriftEntry[];
  orphans: { key: string; id: string }[];
  steps: PlanStep[];
  summary: Record<ChangeAction | 'blocked', number>;
  digest: string;
}

/** What apply records in the workspace state. */
export interface StackState {
  kind: 'berth.stack/v1';
  namespace: string;
  manifestDigest: string | null;
  planDigest: string;
  objects: Record<string, { id: string; digest: string; spec: StackSpec }>;
}

/** Options of `store.plan`. */
export interface PlanOptions {
  mode?: PlanMode;
  /** Delete orphans (objects no workspace manages) when the manifest is trusted. */
  prune?: boolean;
  /** Most orphans one plan may delete (default 20). */
  pruneLimit?: number;
}

/** Options of `store.apply`. */
export interface ApplyOptions {
  /** How long to wait for the workspace lock (default 0: fail at once with LOCKED). */
  lockTimeoutMs?: number;
  /**
   * The id of the workspace lock the caller already holds (taken before planning, as
   * Terraform does); apply then takes no lock of its own and leaves this one held.
   */
  lockId?: string;
  /** Required for a destroy plan and for any delete or replace of a volume (data loss). */
  allowDestroy?: boolean;
  /** Called before each step (for progress output). */
  onProgress?: (done: number, total: number, step: string) => void;
}

/** What `store.apply` did: the workspace's new serial and the plan's summary. */
export interface ApplyResult {
  workspace: string;
  namespace: string;
  serial: number;
  lineage: string;
  summary: Plan['summary'];
  steps: number;
}
