import { arch, cpus, hostname, platform, release, totalmem } from 'node:os';
import type { Container, ContainerSummary, Volume } from '../../engine/types.js';
import { BERTH_VERSION } from '../../version.js';
import { DOCKER_API_VERSION, DOCKER_MIN_API_VERSION } from './engine-api.js';

/*
 * berth's objects in the Docker Engine API's shapes (v1.41: ContainerSummary,
 * ContainerJSON, Volume, SystemVersion, SystemInfo). Fields berth keeps no state for
 * (ports, sizes, image ids, addresses) are there, empty, with their API types.
 */

/** Docker's state word of a berth status (Docker has no `configured`, `stopping` or `unknown`). */
const DOCKER_STATE: Readonly<Record<string, string>> = {
  configured: 'created',
  created: 'created',
  running: 'running',
  paused: 'paused',
  stopping: 'running',
  stopped: 'exited',
  exited: 'exited',
  removing: 'removing',
  unknown: 'dead',
};

/** Docker's state word of a berth status. */
export function dockerState(status: string): string {
  return Object.hasOwn(DOCKER_STATE, status) ? DOCKER_STATE[status]! : 'dead';
}

/**
 * The berth status words (the listing's `status=` vocabulary) a Docker status word
 * selects; `restarting` selects none, as berth never restarts anything.
 */
export const STATUS_OF_DOCKER_STATE: Readonly<Record<string, readonly string[]>> = {
  created: ['created'],
  running: ['running', 'stopping'],
  paused: ['paused'],
  exited: ['exited'],
  removing: ['removing'],
  dead: ['unknown'],
  restarting: [],
};

/** A duration as Docker says it (go-units' HumanDuration): `5 minutes`, `About an hour`, `3 days`. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** Docker's human status of a container (`Up 5 minutes`, `Exited (1) 2 hours ago`, `Created`). */
export function dockerStatus(
  c: { status: string; exitCode?: number | null; startedAt?: string | null; finishedAt?: string | null },
  now = Date.now(),
): string {
  const since = (at: string | null | undefined): string | undefined => {
    const ms = at ? Date.parse(at) : NaN;
    return Number.isNaN(ms) ? undefined : humanDuration(Math.max(0, now - ms));
  };
  switch (dockerState(c.status)) {
    case 'running': {
      const up = since(c.startedAt);
      return `Up${up ? ` ${up}` : ''}${c.status === 'stopping' ? ' (Stopping)' : ''}`;
    }
    case 'paused': {
      const up = since(c.startedAt);
      return `Up${up ? ` ${up}` : ''} (Paused)`;
    }
    case 'exited': {
      const ago = since(c.finishedAt);
      return `Exited (${c.exitCode ?? 0})${ago ? ` ${ago} ago` : ''}`;
    }
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    default:
      return 'Created';
  }
}

/** Seconds since the epoch of an ISO time (0 when absent). */
export function unixSeconds(iso: string | null | undefined): number {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

/** Go's zero time, which the APIs show for a time that never happened. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** A command as one line, as Docker shows it. */
function commandLine(command: readonly string[] | undefined): string {
  return (command ?? []).join(' ');
}

/** An endpoint of a network, with nothing but its name known (berth stores no addresses). */
export function endpoint(
  opts: { aliases?: string[] | undefined; staticMac?: string | undefined } = {},
): Record<string, unknown> {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: opts.aliases ?? null,
    NetworkID: '',
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: opts.staticMac ?? '',
    DriverOpts: null,
  };
}

/** A named volume as a Docker mount point. */
function mountPoint(m: { name: string; dest: string }): Record<string, unknown> {
  return {
    Type: 'volume',
    Name: m.name,
    Source: '',
    Destination: m.dest,
    Driver: 'local',
    Mode: '',
    RW: true,
    Propagation: '',
  };
}

/** A listed container as Docker's ContainerSummary (`GET /containers/json`). */
export function toDockerContainerSummary(c: ContainerSummary, now = Date.now()): Record<string, unknown> {
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.image ?? '',
    ImageID: '',
    Command: commandLine(c.command),
    Created: unixSeconds(c.createdAt),
    Ports: [],
    Labels: c.labels,
    State: dockerState(c.status),
    Status: dockerStatus(c, now),
    HostConfig: { NetworkMode: c.networks[0] ?? 'default' },
    NetworkSettings: { Networks: Object.fromEntries(c.networks.map((n) => [n, endpoint()])) },
    Mounts: c.mounts.map(mountPoint),
  };
}

/** A container as Docker's ContainerJSON (`GET /containers/{id}/json`), with its exec sessions' ids. */
export function toDockerContainer(c: Container, execIds: readonly string[]): Record<string, unknown> {
  const { config, state } = c;
  const status = dockerState(state.status);
  const command = config.command ?? [];
  const networks = config.networks ?? {};
  return {
    Id: config.id,
    Created: config.createdAt ?? ZERO_TIME,
    Path: command[0] ?? '',
    Args: command.slice(1),
    State: {
      Status: status,
      Running: status === 'running' || status === 'paused',
      Paused: status === 'paused',
      Restarting: false,
      OOMKilled: false,
      Dead: status === 'dead',
      Pid: state.pid ?? 0,
      ExitCode: state.exitCode ?? 0,
      Error: '',
      StartedAt: state.startedAt ?? ZERO_TIME,
      FinishedAt: state.finishedAt ?? ZERO_TIME,
    },
    Image: '',
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: '',
    Name: `/${config.name}`,
    RestartCount: 0,
    Driver: '',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: execIds.length > 0 ? execIds : null,
    HostConfig: {
      NetworkMode: Object.keys(networks)[0] ?? 'default',
      Binds: null,
      PortBindings: {},
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      AutoRemove: false,
      Links: null,
    },
    GraphDriver: { Name: '', Data: null },
    Mounts: (config.namedVolumes ?? []).map(mountPoint),
    Config: { ...containerConfigShape(config, command), Entrypoint: null },
    NetworkSettings: {
      Bridge: '',
      SandboxID: '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: {},
      SandboxKey: '',
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: '',
      Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: '',
      IPPrefixLen: 0,
      IPv6Gateway: '',
      MacAddress: '',
      Networks: Object.fromEntries(Object.entries(networks).map(([name, opts]) => [name, endpoint(opts)])),
    },
  };
}

/** A volume as Docker's Volume (`GET /volumes`, `GET /volumes/{name}`). */
export function toDockerVolume(v: Volume): Record<string, unknown> {
  return {
    Name: v.config.name,
    Driver: v.config.driver || 'local',
    Mountpoint: v.state.mountPoint ?? '',
    CreatedAt: v.config.createdAt ?? ZERO_TIME,
    Labels: v.config.labels ?? {},
    Scope: 'local',
    Options: v.config.options ?? {},
    UsageData: null,
  };
}

/** Go's name of this machine's architecture. */
function goArch(): string {
  const a = arch();
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
}

/** `GET /version`: berth as the Engine, speaking API 1.41. */
export function dockerVersion(componentVersion = BERTH_VERSION): Record<string, unknown> {
  const details = {
    ApiVersion: DOCKER_API_VERSION,
    MinAPIVersion: DOCKER_MIN_API_VERSION,
    Os: platform(),
    Arch: goArch(),
    KernelVersion: release(),
  };
  return {
    Platform: { Name: `berth ${BERTH_VERSION}` },
    Components: [{ Name: 'Engine', Version: componentVersion, Details: { ...details, GitCommit: '', GoVersion: '' } }],
    Version: componentVersion,
    ...details,
    GitCommit: '',
    GoVersion: `node ${process.versions.node}`,
    BuildTime: '',
  };
}

/** Counts of containers by Docker state, for `/info`. */
export interface ContainerCounts {
  total: number;
  running: number;
  paused: number;
  stopped: number;
}

/** Counts of containers by their Docker state word. */
export function countContainers(summaries: readonly { status: string }[]): ContainerCounts {
  const counts: ContainerCounts = { total: summaries.length, running: 0, paused: 0, stopped: 0 };
  for (const s of summaries) {
    const state = dockerState(s.status);
    if (state === 'running') counts.running++;
    else if (state === 'paused') counts.paused++;
    else counts.stopped++;
  }
  return counts;
}

/** `GET /info`: the store's counts, and no swarm (so `docker inspect` skips swarm objects). */
export function dockerInfo(counts: ContainerCounts, store: string): Record<string, unknown> {
  return {
    ID: '',
    Containers: counts.total,
    ContainersRunning: counts.running,
    ContainersPaused: counts.paused,
    ContainersStopped: counts.stopped,
    Images: 0,
    Driver: 'berth',
    DriverStatus: [['Store', store]],
    Plugins: { Volume: ['local'], Network: [], Authorization: null, Log: [] },
    MemoryLimit: false,
    SwapLimit: false,
    Debug: false,
    NFd: 0,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: '',
    CgroupDriver: '',
    NEventsListener: 0,
    KernelVersion: release(),
    OperatingSystem: `berth ${BERTH_VERSION}`,
    OSType: platform(),
    Architecture: goArch(),
    NCPU: cpus().length,
    MemTotal: totalmem(),
    IndexServerAddress: '',
    RegistryConfig: null,
    Name: hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: BERTH_VERSION,
    Swarm: {
      NodeID: '',
      NodeAddr: '',
      LocalNodeState: 'inactive',
      ControlAvailable: false,
      Error: '',
      RemoteManagers: null,
    },
    Warnings: null,
  };
}

/**
 * The `Config` of a container's inspect document as both APIs share it: what berth records
 * (hostname from the id, env, command, image, labels), the rest empty.
 */
export function containerConfigShape(config: Container['config'], command: readonly string[]): Record<string, unknown> {
  return {
    Hostname: config.id.slice(0, 12),
    Domainname: '',
    User: '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: Object.entries(config.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Cmd: command,
    Image: config.image ?? '',
    Volumes: null,
    WorkingDir: '',
    OnBuild: null,
    Labels: config.labels ?? {},
  };
}
