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

export interface NamedVolume {
  name: string;
  dest: string;
  [extra: string]: unknown;
}

export interface ContainerConfig {
  id: string;
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

export interface Container {
  config: ContainerConfig;
  state: ContainerState;
}

export interface PodConfig {
  id: string;
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  createdAt?: string;
  [extra: string]: unknown;
}

export interface PodState {
  infraContainerId?: string;
  cgroupPath?: string;
  [extra: string]: unknown;
}

export interface Pod {
  config: PodConfig;
  state: PodState;
}

export interface VolumeConfig {
  name: string;
  namespace?: string;
  driver?: string;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  createdAt?: string;
  [extra: string]: unknown;
}

export interface VolumeState {
  mountCount?: number;
  mountPoint?: string;
  [extra: string]: unknown;
}

export interface Volume {
  config: VolumeConfig;
  state: VolumeState;
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
