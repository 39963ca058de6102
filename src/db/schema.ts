import type { Generated } from 'kysely';

/**
 * Row types: what the database stores, column for column (migrations/). Mappers in
 * src/engine/row-mappers.ts turn rows into domain objects.
 */

export interface MetaRow {
  key: string;
  value: string;
}

export interface MigrationRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: number;
}

export interface PodRow {
  id: string;
  name: string;
  namespace: string;
  workspace: string | null;
  config_json: string;
  state_json: string;
  created_at: number;
  updated_at: number;
}

export interface ContainerRow {
  id: string;
  name: string;
  namespace: string;
  pod_id: string | null;
  /** Value of the `berth.workspace` label: the workspace that manages it. */
  workspace: string | null;
  config_json: string;
  state_json: string;
  created_at: number;
  updated_at: number;
}

/**
 * A container's listing fields, kept by triggers from its documents (migration 005's
 * `container_summary_source`). JSON columns are text on SQLite and jsonb (parsed by the
 * driver) on PostgreSQL.
 */
export interface ContainerSummaryRow {
  created: string;
  id: string;
  name: string;
  namespace: string;
  pod_id: string | null;
  image: string | null;
  command_json: unknown;
  status: string | null;
  exit_code: number | null;
  started_at: string | null;
  finished_at: string | null;
  labels_json: unknown;
  mounts_json: unknown;
  networks_json: unknown;
}

export interface ContainerDependencyRow {
  container_id: string;
  dependency_id: string;
}

export interface VolumeRow {
  name: string;
  namespace: string;
  workspace: string | null;
  config_json: string;
  state_json: string;
  created_at: number;
  updated_at: number;
}

export interface ContainerVolumeRow {
  container_id: string;
  volume_name: string;
}

export interface ExecSessionRow {
  id: string;
  container_id: string;
}

export interface ExitCodeRow {
  container_id: string;
  code: number;
  created_at: number;
}

export interface EventRow {
  seq: Generated<number>;
  ts: number;
  namespace: string;
  type: string;
  subject_kind: string;
  subject_id: string | null;
  subject_name: string | null;
  actor: string;
  data_json: string;
}

export interface WorkspaceRow {
  namespace: string;
  name: string;
  lineage: string;
  serial: number;
  state_json: string | null;
  checksum: string | null;
  created_at: number;
  updated_at: number;
}

/** A workspace row without its state document. */
export type WorkspaceHead = Omit<WorkspaceRow, 'state_json'>;

export interface StateVersionRow {
  namespace: string;
  workspace: string;
  serial: number;
  lineage: string;
  checksum: string | null;
  state_json: string | null;
  created_at: number;
  who: string;
  operation: string;
}

export interface LockRow {
  key: string;
  id: string;
  operation: string;
  who: string;
  info: string;
  version: string;
  created_at: number;
  pid: number;
  host: string;
  boot_id: string;
  fencing_token: number;
  ttl_ms: number | null;
  expires_at: number | null;
}

/** A workspace's data key, wrapped by the operator's secrets key. */
export interface SecretKeyRow {
  id: string;
  namespace: string;
  workspace: string;
  wrapped: string;
  key_check: string;
  created_at: number;
  retired_at: number | null;
}

/** The whole schema as kysely sees it. */
export interface Database {
  berth_meta: MetaRow;
  berth_migrations: MigrationRow;
  pods: PodRow;
  containers: ContainerRow;
  container_summaries: ContainerSummaryRow;
  container_dependencies: ContainerDependencyRow;
  volumes: VolumeRow;
  container_volumes: ContainerVolumeRow;
  exec_sessions: ExecSessionRow;
  exit_codes: ExitCodeRow;
  events: EventRow;
  workspaces: WorkspaceRow;
  state_versions: StateVersionRow;
  locks: LockRow;
  secret_keys: SecretKeyRow;
}

/**
 * Every table, parents before the tables that reference them (container_summaries is
 * not one: triggers keep it from containers).
 */
export const TABLES_IN_DEPENDENCY_ORDER = [
  'berth_migrations',
  'berth_meta',
  'pods',
  'volumes',
  'containers',
  'container_dependencies',
  'container_volumes',
  'exec_sessions',
  'exit_codes',
  'workspaces',
  'state_versions',
  'locks',
  'secret_keys',
  'events',
] as const satisfies readonly (keyof Database)[];
