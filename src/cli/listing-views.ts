import type { ContainerSummary, ContainerSummaryField, PodSummary, VolumeSummary } from '../engine/types.js';
import { CONTAINER_SUMMARY_FIELDS } from '../engine/objects/listing-query.js';
import { relativeTime, shortId } from './output.js';
import type { TemplateData, TemplateValue } from './template.js';

/*
 * What the listing commands show of a summary, in one place so that the table, the
 * `--format` template and the JSON agree: podman's status text, podman's JSON keys beside
 * berth's own, and the fields a `--format` template may name (podman's names).
 */

/** A container summary with any subset of its fields (the listing reads only those asked for). */
export type Row = Partial<ContainerSummary> & { id: string };

/** podman's STATUS text: "Up 2 minutes", "Exited (0) 3 hours ago" (no code when none is known), "Created", from podman's state word. */
export function statusText(c: Row, now: number): string {
  switch (c.state) {
    case 'running':
      return c.startedAt ? `Up ${relativeTime(c.startedAt, now).replace(/ ago$/, '')}` : 'Up';
    case 'exited':
      // A container berth saw stop without an exit code (refresh after a reboot) shows none.
      return `Exited${c.exitCode === null || c.exitCode === undefined ? '' : ` (${c.exitCode})`}${c.finishedAt ? ' ' + relativeTime(c.finishedAt, now) : ''}`;
    case undefined:
      return '';
    default:
      return c.state.charAt(0).toUpperCase() + c.state.slice(1);
  }
}

/** Unix seconds of an ISO time (podman's `Created`), 0 when unknown. */
function unixSeconds(iso: string | null | undefined): number {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

/** The summary fields each podman `ps` field is built from. */
const PS_FIELD_SOURCES: Readonly<Record<string, readonly ContainerSummaryField[]>> = {
  ID: ['id'],
  Names: ['name'],
  Image: ['image'],
  Command: ['command'],
  Created: ['createdAt'],
  CreatedAt: ['createdAt'],
  RunningFor: ['createdAt'],
  Status: ['state', 'exitCode', 'startedAt', 'finishedAt'],
  State: ['state'],
  ExitCode: ['exitCode'],
  Exited: ['state'],
  StartedAt: ['startedAt'],
  ExitedAt: ['finishedAt'],
  Pod: ['pod'],
  PodName: ['podName'],
  Labels: ['labels'],
  Namespace: ['namespace'],
  Mounts: ['mounts'],
  Networks: ['networks'],
};

/** The fields `ps --format` templates may name (podman's). */
export const PS_TEMPLATE_FIELDS = Object.keys(PS_FIELD_SOURCES);

/** Headers of ps template columns that differ from podman's default (upper-cased words). */
export const PS_HEADERS: Readonly<Record<string, string>> = { ID: 'CONTAINER ID', Pod: 'POD ID', PodName: 'PODNAME' };

/** Summary fields the `--format json` rows (and `{{json .}}`) are built from. */
export const PS_JSON_SOURCES: readonly ContainerSummaryField[] = CONTAINER_SUMMARY_FIELDS.filter((f) => f !== 'mounts');

/** The summary fields a template needs: those of the podman fields it names, and the JSON row's for `.`. */
export function psSources(used: { fields: readonly string[]; whole: boolean }): ContainerSummaryField[] {
  const sources = used.fields.flatMap((f) => PS_FIELD_SOURCES[f] ?? []);
  return [...new Set(used.whole ? [...PS_JSON_SOURCES, ...sources] : sources)];
}

/**
 * One `ps --format json` row: berth's keys (id, name, namespace, pod, image, status,
 * createdAt, labels; `status` is berth's word) and podman's (Id, Names, Image, Command,
 * State, Status as the table shows it, ExitCode, Exited, Pod, PodName, Labels, Created in
 * Unix seconds, CreatedAt as podman words it, StartedAt, ExitedAt, Networks).
 */
export function psJson(c: Row, now: number): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    namespace: c.namespace,
    pod: c.pod,
    image: c.image,
    status: c.status,
    createdAt: c.createdAt,
    labels: c.labels,
    Id: c.id,
    Names: [c.name],
    Image: c.image ?? '',
    Command: c.command ?? [],
    State: c.state,
    Status: statusText(c, now),
    ExitCode: c.exitCode ?? 0,
    Exited: c.state === 'exited',
    ExitedAt: unixSeconds(c.finishedAt),
    StartedAt: unixSeconds(c.startedAt),
    Pod: c.pod ?? '',
    PodName: c.podName ?? '',
    Labels: c.labels ?? {},
    Networks: c.networks ?? [],
    Created: unixSeconds(c.createdAt),
    CreatedAt: relativeTime(c.createdAt ?? undefined, now),
  };
}

/** What a `ps --format` template sees of a container: podman's fields. */
export function psTemplateData(c: Row, now: number, noTrunc: boolean): TemplateData {
  const id = (x: string | null | undefined): string => (x ? (noTrunc ? x : shortId(x)) : '');
  return {
    ID: id(c.id),
    Names: c.name ?? '',
    Image: c.image ?? '',
    Command: (c.command ?? []).join(' '),
    Created: relativeTime(c.createdAt ?? undefined, now),
    CreatedAt: c.createdAt ?? '',
    RunningFor: relativeTime(c.createdAt ?? undefined, now),
    Status: statusText(c, now),
    State: c.state ?? '',
    ExitCode: c.exitCode ?? 0,
    Exited: c.state === 'exited',
    StartedAt: c.startedAt ?? '',
    ExitedAt: c.finishedAt ?? '',
    Pod: id(c.pod),
    PodName: c.podName ?? '',
    Labels: c.labels ?? {},
    Namespace: c.namespace ?? '',
    Mounts: (c.mounts ?? []).map((m) => m.name),
    Networks: c.networks ?? [],
  };
}

// ------------------------------------------------------------------ pods

/** The fields `pod ps --format` templates may name (podman's). */
export const POD_TEMPLATE_FIELDS = [
  'ID',
  'Name',
  'Status',
  'Created',
  'CreatedAt',
  'Labels',
  'Namespace',
  'InfraID',
  'NumberOfContainers',
  'ContainerIds',
];

export const POD_HEADERS: Readonly<Record<string, string>> = {
  ID: 'POD ID',
  InfraID: 'INFRA ID',
  NumberOfContainers: '# OF CONTAINERS',
  ContainerIds: 'IDS',
};

/** One `pod ps --format json` row: berth's keys and podman's. */
export function podJson(p: PodSummary): Record<string, unknown> {
  return {
    id: p.id,
    name: p.name,
    namespace: p.namespace,
    status: p.status,
    createdAt: p.createdAt,
    labels: p.labels,
    containers: p.containers.length,
    Id: p.id,
    Name: p.name,
    Namespace: p.namespace,
    Status: p.status,
    Created: p.createdAt ?? '',
    Labels: p.labels,
    InfraId: p.infraContainerId ?? '',
    ContainerIds: p.containers,
  };
}

export function podTemplateData(p: PodSummary, now: number, noTrunc: boolean): TemplateData {
  const id = (x: string): string => (noTrunc ? x : shortId(x));
  return {
    ID: id(p.id),
    Name: p.name,
    Status: p.status,
    Created: relativeTime(p.createdAt ?? undefined, now),
    CreatedAt: p.createdAt ?? '',
    Labels: p.labels,
    Namespace: p.namespace,
    InfraID: p.infraContainerId ? id(p.infraContainerId) : '',
    NumberOfContainers: p.containers.length,
    ContainerIds: p.containers.map(id),
  };
}

// ------------------------------------------------------------------ volumes

export const VOLUME_TEMPLATE_FIELDS = [
  'Name',
  'Driver',
  'Labels',
  'Options',
  'Mountpoint',
  'CreatedAt',
  'Scope',
  'Namespace',
  'Users',
];

export const VOLUME_HEADERS: Readonly<Record<string, string>> = { Name: 'VOLUME NAME', Mountpoint: 'MOUNT POINT' };

/** podman's keys of a volume, shared by `volume ls --format json` and its templates. */
function podmanVolume(v: VolumeSummary) {
  return {
    Name: v.name,
    Driver: v.driver,
    Labels: v.labels,
    Options: v.options,
    Mountpoint: v.mountPoint ?? '',
    CreatedAt: v.createdAt ?? '',
    Scope: 'local',
  };
}

/** One `volume ls --format json` row: berth's keys and podman's. */
export function volumeJson(v: VolumeSummary): Record<string, unknown> {
  return {
    name: v.name,
    driver: v.driver,
    namespace: v.namespace,
    labels: v.labels,
    options: v.options,
    createdAt: v.createdAt,
    mountPoint: v.mountPoint,
    ...podmanVolume(v),
  };
}

export function volumeTemplateData(v: VolumeSummary): TemplateData {
  return { ...podmanVolume(v), Namespace: v.namespace, Users: v.users };
}

/** A value as a template sees it (JSON data as is). */
export function asTemplateValue(value: unknown): TemplateValue {
  return value as TemplateValue;
}
