import { arch, cpus, hostname, platform, release, totalmem } from 'node:os';
import type { Container, ContainerSummary, Pod, PodSummary, Volume } from '../../engine/types.js';
import { BERTH_VERSION } from '../../version.js';
import {
  ZERO_TIME,
  containerConfigShape,
  dockerVersion,
  endpoint,
  unixSeconds,
  type ContainerCounts,
} from '../docker/docker-shapes.js';
import { LIBPOD_API_VERSION } from '../docker/engine-api.js';

/*
 * berth's objects in libpod's shapes (podman 4.3: ListContainer, InspectContainerData,
 * ListPodsReport, InspectPodData, VolumeConfigResponse, Info). The listing's state word
 * is podman's own; fields berth keeps no state for are empty, with their Go types, so
 * podman's client decodes every answer.
 */

/** A time the APIs show as Go's time.Time (the zero time when absent). */
function goTime(iso: string | null | undefined): string {
  return iso ?? ZERO_TIME;
}

/** A listed container as libpod's ListContainer (`GET /libpod/containers/json`). */
export function toLibpodContainerSummary(c: ContainerSummary): Record<string, unknown> {
  const exited = c.state === 'exited';
  return {
    AutoRemove: false,
    Command: c.command.length > 0 ? c.command : null,
    Created: goTime(c.createdAt),
    CreatedAt: '',
    Exited: exited,
    ExitedAt: c.finishedAt ? unixSeconds(c.finishedAt) : 0,
    ExitCode: c.exitCode ?? 0,
    Id: c.id,
    Image: c.image ?? '',
    ImageID: '',
    IsInfra: false,
    Labels: c.labels,
    Mounts: c.mounts.map((m) => m.dest),
    Names: [c.name],
    Namespaces: {},
    Networks: c.networks,
    Pid: 0,
    Pod: c.pod ?? '',
    PodName: c.podName ?? '',
    Ports: null,
    Size: null,
    StartedAt: c.startedAt ? unixSeconds(c.startedAt) : 0,
    State: c.state,
    Status: '',
  };
}

/**
 * A container as libpod's InspectContainerData (`GET /libpod/containers/{id}/json`), with
 * its podman state word and its exec sessions' ids.
 */
export function toLibpodContainer(c: Container, state: string, execIds: readonly string[]): Record<string, unknown> {
  const { config } = c;
  const command = config.command ?? [];
  const running = state === 'running' || state === 'paused' || state === 'stopping';
  return {
    Id: config.id,
    Created: goTime(config.createdAt),
    Path: command[0] ?? '',
    Args: command.slice(1),
    State: {
      OciVersion: '',
      Status: state,
      Running: running,
      Paused: state === 'paused',
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: c.state.pid ?? 0,
      ConmonPid: 0,
      ExitCode: c.state.exitCode ?? 0,
      Error: '',
      StartedAt: goTime(c.state.startedAt),
      FinishedAt: goTime(c.state.finishedAt),
      Checkpointed: false,
    },
    Image: '',
    ImageName: config.image ?? '',
    Rootfs: '',
    Pod: config.pod ?? '',
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    StaticDir: '',
    OCIRuntime: '',
    ConmonPidFile: '',
    PidFile: '',
    Name: config.name,
    RestartCount: 0,
    Driver: '',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    EffectiveCaps: null,
    BoundingCaps: null,
    ExecIDs: execIds,
    GraphDriver: { Name: '', Data: null },
    Mounts: (config.namedVolumes ?? []).map((m) => ({
      Type: 'volume',
      Name: m.name,
      Source: '',
      Destination: m.dest,
      Driver: 'local',
      Mode: '',
      Options: [],
      RW: true,
      Propagation: '',
    })),
    Dependencies: config.dependencies ?? [],
    NetworkSettings: {
      EndpointID: '',
      Gateway: '',
      IPAddress: '',
      IPPrefixLen: 0,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      MacAddress: '',
      Bridge: '',
      SandboxID: '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: {},
      SandboxKey: '',
      Networks: Object.fromEntries(
        Object.entries(config.networks ?? {}).map(([name, opts]) => [name, { ...endpoint(opts), NetworkID: name }]),
      ),
    },
    Namespace: config.namespace ?? '',
    IsInfra: false,
    IsService: false,
    Config: {
      ...containerConfigShape(config, command),
      Entrypoint: '',
      Annotations: {},
      StopSignal: 0,
      CreateCommand: null,
      Timezone: '',
      Umask: '',
    },
    HostConfig: {
      Binds: [],
      NetworkMode: Object.keys(config.networks ?? {})[0] ?? '',
      PortBindings: {},
      RestartPolicy: { Name: '', MaximumRetryCount: 0 },
      AutoRemove: false,
    },
  };
}

/** A listed pod as libpod's ListPodsReport (`GET /libpod/pods/json`). */
export function toLibpodPodSummary(
  p: PodSummary,
  members: ReadonlyMap<string, { name: string; state: string }>,
): Record<string, unknown> {
  return {
    Cgroup: '',
    Containers: p.containers.map((id) => ({
      Id: id,
      Names: members.get(id)?.name ?? '',
      Status: members.get(id)?.state ?? 'unknown',
    })),
    Created: goTime(p.createdAt),
    Id: p.id,
    InfraId: p.infraContainerId ?? '',
    Name: p.name,
    Namespace: p.namespace,
    Networks: [],
    Status: p.status,
    Labels: p.labels,
  };
}

/** A pod as libpod's InspectPodData (`GET /libpod/pods/{id}/json`). */
export function toLibpodPod(
  pod: Pod,
  status: string,
  members: readonly { id: string; name: string; state: string }[],
): Record<string, unknown> {
  const { config, state } = pod;
  return {
    Id: config.id,
    Name: config.name,
    Namespace: config.namespace ?? '',
    Created: goTime(config.createdAt),
    CreateCommand: null,
    ExitPolicy: '',
    State: status,
    Hostname: '',
    Labels: config.labels ?? {},
    CreateCgroup: false,
    CgroupParent: '',
    CgroupPath: state.cgroupPath ?? '',
    CreateInfra: state.infraContainerId !== undefined,
    InfraContainerID: state.infraContainerId ?? '',
    SharedNamespaces: null,
    NumContainers: members.length,
    Containers: members.map((m) => ({ Id: m.id, Name: m.name, State: m.state })),
  };
}

/** A volume as libpod's VolumeConfigResponse / InspectVolumeData. */
export function toLibpodVolume(v: Volume): Record<string, unknown> {
  return {
    Name: v.config.name,
    Driver: v.config.driver || 'local',
    Mountpoint: v.state.mountPoint ?? '',
    CreatedAt: goTime(v.config.createdAt),
    Labels: v.config.labels ?? {},
    Scope: 'local',
    Options: v.config.options ?? {},
    UID: 0,
    GID: 0,
    Anonymous: false,
    MountCount: v.state.mountCount ?? 0,
    NeedsCopyUp: false,
    NeedsChown: false,
  };
}

/** `GET /libpod/version`: Docker's version document, with libpod's version. */
export function libpodVersion(): Record<string, unknown> {
  const doc = dockerVersion(LIBPOD_API_VERSION);
  const components = doc.Components as { Details: Record<string, unknown> }[];
  components[0]!.Details.APIVersion = LIBPOD_API_VERSION;
  return doc;
}

/** `GET /libpod/info`: the store's counts, as podman's Info. */
export function libpodInfo(
  counts: ContainerCounts,
  pods: number,
  volumes: number,
  store: string,
): Record<string, unknown> {
  return {
    host: {
      arch: arch() === 'x64' ? 'amd64' : arch(),
      cpus: cpus().length,
      hostname: hostname(),
      kernel: release(),
      os: platform(),
      memTotal: totalmem(),
      memFree: 0,
      swapFree: 0,
      swapTotal: 0,
      uptime: '',
      security: { rootless: process.getuid?.() !== 0 },
      distribution: { distribution: 'berth', version: BERTH_VERSION },
    },
    store: {
      configFile: '',
      containerStore: {
        number: counts.total,
        paused: counts.paused,
        running: counts.running,
        stopped: counts.stopped,
      },
      graphDriverName: 'berth',
      graphRoot: store,
      graphStatus: {},
      imageCopyTmpDir: '',
      imageStore: { number: 0 },
      runRoot: '',
      volumePath: '',
    },
    registries: {},
    plugins: { volume: ['local'], network: [], log: [] },
    version: {
      APIVersion: LIBPOD_API_VERSION,
      Version: LIBPOD_API_VERSION,
      GoVersion: `node ${process.versions.node}`,
      GitCommit: '',
      BuiltTime: '',
      Built: 0,
      OsArch: `${platform()}/${arch() === 'x64' ? 'amd64' : arch()}`,
      Os: platform(),
    },
    pods,
    volumes,
  };
}
